import type { Session } from './session.js';

/** A task that left OPEN, as the cleanup policy learns of it (in commit order). */
export interface TaskEndNotice {
  readonly seq: number;
  readonly taskId: string;
  readonly agentId: string;
  readonly status: string;
  readonly endedAt: Date;
}

/**
 * What the sweeper needs from storage. Each method is one short transaction
 * over an index, touching at most `limit` rows: the sweeper's cost follows
 * what ends, never what is stored.
 */
export interface SessionLifecycleRepository {
  /** Marks up to `limit` sessions whose lifetime has passed as ended ('expired'), oldest first. */
  endExpired(now: Date, limit: number): Promise<Session[]>;
  /** Revokes up to `limit` live sessions whose last activity is at or before `idleSince`. */
  revokeIdle(idleSince: Date, now: Date, limit: number, reason: string): Promise<Session[]>;
  /** Revokes every live session of the task. */
  revokeForTask(taskId: string, now: Date, reason: string): Promise<Session[]>;
  /** Task ends not yet handled, oldest first. */
  pendingTaskEnds(limit: number): Promise<TaskEndNotice[]>;
  /** Forgets task ends up to and including `seq`, once handled. */
  acknowledgeTaskEnds(seq: number): Promise<void>;
}
