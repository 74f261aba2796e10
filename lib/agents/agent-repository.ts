import type { Agent, AgentCertificate, AgentWrite, NewAgent } from './agent.js';
import type { Session } from '../sessions/session.js';

export interface AgentEndResult {
  readonly agent: Agent;
  /** Sessions revoked by this change; their back-channel logouts are queued in the same transaction. */
  readonly revokedSessions: readonly Session[];
  readonly cancelledTaskIds: readonly string[];
}

export interface AgentChangeResult extends AgentEndResult {
  readonly previous: Agent;
}

/** Agent records. Every method is one atomic operation. */
export interface AgentRepository {
  /** @throws TesseraError('conflict') when the userName is taken (case-insensitively) or a certificate belongs to another agent. */
  create(agent: NewAgent, at: Date): Promise<Agent>;
  get(id: string): Promise<Agent | undefined>;
  getByUserName(userName: string): Promise<Agent | undefined>;
  /** Every agent, oldest first (SCIM list filters and pages them). */
  list(): Promise<Agent[]>;
  /** The active certificate with this thumbprint and the agent holding it. */
  findByCertificate(thumbprint: string): Promise<{ agent: Agent; certificate: AgentCertificate } | undefined>;
  /**
   * Replaces what a client may write. When active goes from true to false every live
   * session is revoked, every open task cancelled and the logouts queued, in the same
   * transaction. Certificates left out are retired, not forgotten.
   * @param expectedVersion when set, the change happens only at that version
   * @throws TesseraError('precondition_failed') on a version mismatch; ('conflict') on a taken userName or certificate
   */
  replace(id: string, agent: AgentWrite, at: Date, expectedVersion: number | undefined): Promise<AgentChangeResult | undefined>;
  /**
   * Activates or deactivates. Deactivation revokes every live session, cancels every
   * open task and queues the logouts in the same transaction.
   */
  setActive(id: string, active: boolean, at: Date): Promise<AgentEndResult | undefined>;
  /** Deletes the agent after revoking its sessions, cancelling its tasks and queueing the logouts, atomically. */
  delete(id: string, at: Date, expectedVersion?: number): Promise<AgentEndResult | undefined>;
}
