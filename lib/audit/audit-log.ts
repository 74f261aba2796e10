import type { AuditEntry } from './audit-entry.js';

/**
 * Every decision Tessera takes is recorded as an audit event: what happened, who
 * asked, about which agent, task, SP and assertion, and the agent's provenance
 * (model hash, source commit, training-data version) at that moment.
 */
export type AuditEventName =
  | 'signon.issued'
  | 'signon.denied'
  | 'task.opened'
  | 'task.ended'
  | 'agent.provisioned'
  | 'agent.changed'
  | 'agent.deactivated'
  | 'agent.deleted'
  | 'session.expired'
  | 'policy.revoked'
  | 'policy.credentials_retired'
  | 'key.rotated'
  | 'key.activated'
  | 'key.retired'
  | 'group.created'
  | 'group.changed'
  | 'group.deleted'
  | 'scim.denied'
  | 'logout.requested'
  | 'logout.denied'
  | 'logout.sent'
  | 'logout.failed'
  | 'policy.denied'
  | 'policy.step_up'
  | 'policy.revoke'
  | 'approval.approved'
  | 'approval.denied'
  | 'approval.consumed'
  | 'alert.failed';

export interface AuditedAgent {
  readonly id: string;
  readonly userName: string;
  readonly modelHash: string | undefined;
  readonly sourceCommit: string | undefined;
  readonly trainingDataVersion: string | undefined;
}

export interface AuditEvent {
  readonly event: AuditEventName;
  /** Who caused it: "agent:<userName>", "orchestrator:<token name>", "admin", "system", "policy". */
  readonly actor: string;
  readonly agent?: AuditedAgent | undefined;
  /** The agent's id when its record is gone (deleted) and only the id is known. */
  readonly agentId?: string | undefined;
  readonly taskId?: string | undefined;
  readonly spEntityId?: string | undefined;
  readonly assertionId?: string | undefined;
  readonly sessionId?: string | undefined;
  /** The stable error code for a refusal. */
  readonly reason?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

export interface AuditLog {
  /** Resolves once the event is recorded; callers acknowledge nothing before that. */
  record(event: AuditEvent): Promise<void>;
  /**
   * An entry that a store transaction appended together with the change it records
   * (AgentRepository.replace and delete), now committed: its log line, metric and
   * checkpoint schedule, as record() gives every other entry.
   */
  recorded(event: AuditEvent, entry: AuditEntry): void;
}
