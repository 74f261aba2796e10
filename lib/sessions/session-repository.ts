import type { Session } from './session.js';

export interface SessionRepository {
  /**
   * Records an issued session, but only while its task is still open and its agent
   * active: the check and the insert are one transaction, so a sign-on racing a
   * deprovisioning either lands before it (and is revoked by it) or is refused.
   * @returns false when the task or agent ended in the meantime.
   */
  createIfTaskOpen(session: Session, now: Date): Promise<boolean>;
  get(id: string): Promise<Session | undefined>;
  getBySessionIndex(sessionIndex: string): Promise<Session | undefined>;
  listLiveForAgent(agentId: string, now: Date): Promise<Session[]>;
}
