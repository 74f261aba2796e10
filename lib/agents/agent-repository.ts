import type { Agent, AgentCertificate, NewAgent } from './agent.js';
import type { Session } from '../sessions/session.js';

export interface AgentEndResult {
  readonly agent: Agent;
  /** Sessions revoked by this change, for the back-channel logout fan-out. */
  readonly revokedSessions: readonly Session[];
  readonly cancelledTaskIds: readonly string[];
}

/** Agent records. Every method is one atomic operation. */
export interface AgentRepository {
  /** @throws TesseraError('conflict') when the userName is taken (case-insensitively) or a certificate belongs to another agent. */
  create(agent: NewAgent, at: Date): Promise<Agent>;
  get(id: string): Promise<Agent | undefined>;
  getByUserName(userName: string): Promise<Agent | undefined>;
  /** The active certificate with this thumbprint and the agent holding it. */
  findByCertificate(thumbprint: string): Promise<{ agent: Agent; certificate: AgentCertificate } | undefined>;
  /**
   * Activates or deactivates. Deactivation revokes every live session and cancels
   * every open task of the agent in the same transaction.
   */
  setActive(id: string, active: boolean, at: Date): Promise<AgentEndResult | undefined>;
  /** Deletes the agent after revoking its sessions and cancelling its tasks, atomically. */
  delete(id: string, at: Date): Promise<AgentEndResult | undefined>;
}
