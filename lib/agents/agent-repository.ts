import type { Agent, AgentCertificate, AgentWrite, NewAgent } from './agent.js';
import type { Session } from '../sessions/session.js';
import type { AuditEntry } from '../audit/audit-entry.js';
import type { AuditEvent } from '../audit/audit-log.js';

export interface AgentEndResult {
  readonly agent: Agent;
  /** Sessions revoked by this change; their back-channel logouts are queued in the same transaction. */
  readonly revokedSessions: readonly Session[];
  readonly cancelledTaskIds: readonly string[];
}

export interface AgentChangeResult extends AgentEndResult {
  readonly previous: Agent;
}

/** The audit record of a change, appended in the change's own transaction. */
export interface AuditedWithin {
  readonly event: AuditEvent;
  readonly entry: AuditEntry;
}

/** Agent records. Every method is one atomic operation. */
export interface AgentRepository {
  /** @throws TesseraError('conflict') when the userName is taken (case-insensitively) or a certificate belongs to another agent. */
  create(agent: NewAgent, at: Date): Promise<Agent>;
  get(id: string): Promise<Agent | undefined>;
  getByUserName(userName: string): Promise<Agent | undefined>;
  /** Agents `offset` to `offset + limit` in creation order, and how many there are in all: a SCIM page. There is no "every agent": a directory is read a page or a batch at a time. */
  page(offset: number, limit: number): Promise<{ readonly total: number; readonly agents: Agent[] }>;
  /** The agents the provisioning client knows by this externalId (exact match), oldest first. */
  findByExternalId(externalId: string): Promise<Agent[]>;
  /** Up to `limit` agents created after `cursor` (an agent of an earlier batch), in creation order: a scan in bounded steps. */
  batchAfter(cursor: Agent | undefined, limit: number): Promise<Agent[]>;
  /** The active certificate with this thumbprint and the agent holding it. */
  findByCertificate(thumbprint: string): Promise<{ agent: Agent; certificate: AgentCertificate } | undefined>;
  /**
   * Replaces what a client may write. When active goes from true to false every live
   * session is revoked, every open task cancelled and the logouts queued, in the same
   * transaction, together with the audit record `auditOf` makes of the outcome: a
   * deactivation's revocations and their record commit together or not at all.
   * Certificates left out are retired, not forgotten.
   * @param expectedVersion when set, the change happens only at that version
   * @throws TesseraError('precondition_failed') on a version mismatch; ('conflict') on a taken userName or certificate
   */
  replace(
    id: string,
    agent: AgentWrite,
    at: Date,
    expectedVersion: number | undefined,
    auditOf: (result: AgentChangeResult) => AuditEvent,
  ): Promise<(AgentChangeResult & { readonly audited: AuditedWithin }) | undefined>;
  /**
   * Deletes the agent after revoking its sessions, cancelling its tasks and queueing the
   * logouts, with the audit record of the outcome, in one transaction.
   */
  delete(
    id: string,
    at: Date,
    expectedVersion: number | undefined,
    auditOf: (result: AgentEndResult) => AuditEvent,
  ): Promise<(AgentEndResult & { readonly audited: AuditedWithin }) | undefined>;
}
