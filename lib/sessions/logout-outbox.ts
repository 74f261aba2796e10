import type { Session } from './session.js';
import type { TaskEndResult } from '../tasks/task-repository.js';
import type { TerminalTaskStatus } from '../tasks/task.js';

/**
 * One back-channel LogoutRequest to send: a snapshot of the session as the SP knows
 * it (NameID, SessionIndex), so delivery never depends on the session row.
 */
export interface LogoutDelivery {
  readonly id: string;
  readonly sessionId: string;
  readonly agentId: string;
  readonly taskId: string;
  readonly spEntityId: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex: string;
  /** Why the session ended (agent_deactivated, task_completed, sp_logout, …). */
  readonly reason: string;
  readonly state: 'pending' | 'delivered' | 'skipped' | 'abandoned';
  /** Attempts made so far (before this one, for a claimed delivery). */
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | undefined;
  readonly createdAt: Date;
  readonly finishedAt: Date | undefined;
}

export interface SloRevocation {
  /** The sessions this logout ended (the requesting SP's among them). */
  readonly revoked: readonly Session[];
  /** Logouts queued for the other SPs of the same task. */
  readonly queued: number;
}

/**
 * The durable outbox of back-channel logouts. Every revocation that is ours happens
 * in the same transaction as the rows that announce it, so a crash cannot revoke a
 * session silently.
 */
export interface LogoutOutbox {
  /** Queues logouts for sessions already revoked elsewhere (the lifecycle sweeper, a policy decision). */
  enqueue(sessions: readonly Session[], reason: string, at: Date): Promise<number>;
  /** Ends an open task, revokes its sessions and queues their logouts: one transaction. */
  endTask(taskId: string, status: TerminalTaskStatus, at: Date): Promise<TaskEndResult>;
  /**
   * SP-initiated logout: revokes the named live sessions of this SP and every other
   * live session of the same tasks, queueing logouts for the other SPs; one transaction.
   */
  revokeForSpLogout(spEntityId: string, sessionIds: readonly string[], at: Date): Promise<SloRevocation>;
  /** Live sessions of an SP for a NameID (and SessionIndexes, when the request names them). */
  findLiveSessions(spEntityId: string, nameId: string, sessionIndexes: readonly string[], now: Date): Promise<Session[]>;
  /** The SPs that have pending deliveries due now (so a sender can settle an SP's deliveries at once). */
  dueServiceProviders(now: Date): Promise<string[]>;
  /**
   * Marks every pending delivery to this SP that is due now as skipped, in one statement:
   * for an SP that takes no back-channel logout, however many sessions it held.
   */
  skipDue(spEntityId: string, now: Date, detail: string): Promise<number>;
  /** Claims up to `limit` due deliveries, leasing each until `leaseUntil`. */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<LogoutDelivery[]>;
  markFinished(id: string, state: 'delivered' | 'skipped' | 'abandoned', at: Date, detail: string | undefined): Promise<void>;
  markFailed(id: string, attempts: number, nextAttemptAt: Date, error: string): Promise<void>;
  /** At start: every pending delivery becomes due now, whatever its backoff said. */
  resumePending(now: Date): Promise<number>;
  /**
   * Deletes up to `limit` finished deliveries (delivered, skipped, abandoned) that finished
   * before `before`, oldest first; pending ones are never touched. Returns how many went.
   */
  purgeFinished(before: Date, limit: number): Promise<number>;
  /** When the next pending delivery is due, if any. */
  nextDueAt(): Promise<Date | undefined>;
  list(): Promise<LogoutDelivery[]>;
}
