import type { Session } from './session.js';

export interface OpenedSession {
  readonly session: Session;
  /** true when an existing live session was extended rather than a new one recorded. */
  readonly refreshed: boolean;
}

export interface SessionRepository {
  /**
   * Records an issued session, but only while its task is still open and its agent
   * active: the check and the insert are one transaction, so a sign-on racing a
   * deprovisioning either lands before it (and is revoked by it) or is refused.
   * @returns false when the task or agent ended in the meantime.
   */
  createIfTaskOpen(session: Session, now: Date): Promise<boolean>;
  /**
   * Sign-on: refreshes the agent's live session for the same task, SP and NameID
   * format (same SessionIndex and NameID; new assertion ID, expiry and activity),
   * or records `candidate` when there is none. A session idle since `idleSince`
   * or earlier is not refreshed: the inactivity window has ended it. Task and agent
   * are re-checked in the same transaction, as for createIfTaskOpen.
   * @returns undefined when the task or agent ended in the meantime.
   */
  openOrRefresh(candidate: Session, now: Date, idleSince: Date | undefined): Promise<OpenedSession | undefined>;
  get(id: string): Promise<Session | undefined>;
  getBySessionIndex(sessionIndex: string): Promise<Session | undefined>;
  listLiveForAgent(agentId: string, now: Date): Promise<Session[]>;
}
