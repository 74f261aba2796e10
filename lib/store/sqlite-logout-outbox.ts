import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';
import type { Session } from '../sessions/session.js';
import type { LogoutDelivery, LogoutOutbox, SloRevocation } from '../sessions/logout-outbox.js';
import type { TaskEndResult } from '../tasks/task-repository.js';
import type { Task, TaskContext, StoredTaskStatus, TerminalTaskStatus } from '../tasks/task.js';
import type { SensitivityTier } from '../config/index.js';
import { fromMillis, optionalFromMillis, parseJson, toMillis } from './rows.js';
import { revokeLiveSessions, sessionFromRow, type SessionRow } from './sqlite-sessions.js';

interface DeliveryRow {
  id: string;
  session_id: string;
  agent_id: string;
  task_id: string;
  sp_entity_id: string;
  name_id: string;
  name_id_format: string;
  session_index: string;
  reason: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

function deliveryFromRow(row: DeliveryRow): LogoutDelivery {
  return {
    id: row.id,
    sessionId: row.session_id,
    agentId: row.agent_id,
    taskId: row.task_id,
    spEntityId: row.sp_entity_id,
    nameId: row.name_id,
    nameIdFormat: row.name_id_format,
    sessionIndex: row.session_index,
    reason: row.reason,
    state: row.state as LogoutDelivery['state'],
    attempts: row.attempts,
    nextAttemptAt: fromMillis(row.next_attempt_at),
    lastError: row.last_error ?? undefined,
    createdAt: fromMillis(row.created_at),
    finishedAt: optionalFromMillis(row.finished_at),
  };
}

/**
 * Delivery ids in the UUIDv7 layout (RFC 9562): the millisecond time, then 74 random
 * bits. A revocation's rows then extend the primary-key index at its end instead of
 * dirtying one page per row across it: with 20,000 rows already in the outbox, queueing
 * 1,000 wrote 400 pages instead of 630 (and 1,150 instead of 2,150 with 200,000).
 */
const DELIVERY_ID = `printf('%08x-%04x-7%03x-%04x-%012x', @at >> 16, @at & 65535,
                            random() & 4095, 32768 | (random() & 16383), random() & 281474976710655)`;

const OUTBOX_COLUMNS = `(id, session_id, agent_id, task_id, sp_entity_id, name_id, name_id_format, session_index,
                         reason, state, attempts, next_attempt_at, created_at)`;

interface QueueStatements {
  /** One session, from the values the caller holds. */
  readonly one: Statement<[Record<string, string | number>]>;
  /** Every live session selected by one column, straight from the sessions table. */
  readonly liveOf: Record<'agent_id' | 'task_id', Statement<[Record<string, string | number>]>>;
}

/** Prepared once per connection: queueing runs inside other repositories' transactions. */
const queueStatements = new WeakMap<SqliteDatabase, QueueStatements>();

function statementsFor(db: SqliteDatabase): QueueStatements {
  let statements = queueStatements.get(db);
  if (!statements) {
    const liveOf = (column: 'agent_id' | 'task_id') =>
      db.prepare<[Record<string, string | number>]>(
        `INSERT OR IGNORE INTO logout_outbox ${OUTBOX_COLUMNS}
         SELECT ${DELIVERY_ID}, id, agent_id, task_id, sp_entity_id, name_id, name_id_format, session_index,
                @reason, 'pending', 0, @at, @at
           FROM sessions WHERE ${column} = @value AND revoked_at IS NULL AND expires_at > @at`,
      );
    statements = {
      one: db.prepare<[Record<string, string | number>]>(
        `INSERT OR IGNORE INTO logout_outbox ${OUTBOX_COLUMNS}
         VALUES (${DELIVERY_ID}, @sessionId, @agentId, @taskId, @spEntityId, @nameId, @nameIdFormat, @sessionIndex,
                 @reason, 'pending', 0, @at, @at)`,
      ),
      liveOf: { agent_id: liveOf('agent_id'), task_id: liveOf('task_id') },
    };
    queueStatements.set(db, statements);
  }
  return statements;
}

/**
 * Writes one outbox row per session, inside the caller's transaction: the agent and
 * task repositories call it in the transaction that revokes. A session already queued
 * is left as it is.
 */
export function queueLogouts(db: SqliteDatabase, sessions: readonly Session[], reason: string, at: Date): number {
  const { one } = statementsFor(db);
  let queued = 0;
  for (const session of sessions) {
    queued += one.run({
      sessionId: session.id,
      agentId: session.agentId,
      taskId: session.taskId,
      spEntityId: session.spEntityId,
      nameId: session.nameId,
      nameIdFormat: session.nameIdFormat,
      sessionIndex: session.sessionIndex,
      reason,
      at: toMillis(at),
    }).changes;
  }
  return queued;
}

/**
 * Ends every live session selected by one column, inside the caller's transaction:
 * queues their logouts with one INSERT … SELECT (no row goes through JavaScript),
 * then revokes them. In that order, because a revoked session leaves the partial
 * index both statements select through; the caller's write lock keeps the two
 * selections equal. Returns the sessions as revoked.
 */
export function endLiveSessions(db: SqliteDatabase, column: 'agent_id' | 'task_id', value: string, at: Date, reason: string): Session[] {
  statementsFor(db).liveOf[column].run({ value, reason, at: toMillis(at) });
  return revokeLiveSessions(db, column, value, at, reason);
}

interface TaskRow {
  id: string;
  agent_id: string;
  scopes: string;
  tier: string;
  audiences: string;
  context: string;
  status: string;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
}

function taskFromRow(row: TaskRow): Task {
  return {
    id: row.id,
    agentId: row.agent_id,
    scopes: parseJson<string[]>(row.scopes),
    tier: row.tier as SensitivityTier,
    audiences: parseJson<string[]>(row.audiences),
    context: parseJson<TaskContext>(row.context),
    status: row.status as StoredTaskStatus,
    createdAt: fromMillis(row.created_at),
    expiresAt: fromMillis(row.expires_at),
    endedAt: optionalFromMillis(row.ended_at),
  };
}

export class SqliteLogoutOutbox implements LogoutOutbox {
  private readonly endOpenTask;
  private readonly taskById;
  private readonly liveSessionsOfSp;
  private readonly revokeSession;
  private readonly due;
  private readonly lease;
  private readonly finish;
  private readonly fail;
  private readonly resume;
  private readonly nextDue;
  private readonly dueSps;
  private readonly skipDueOfSp;
  private readonly all;
  private readonly purgeFinishedBefore;

  constructor(private readonly db: SqliteDatabase) {
    this.endOpenTask = db.prepare<[string, number, string], TaskRow>(
      `UPDATE tasks SET status = ?, ended_at = ? WHERE id = ? AND status = 'OPEN' RETURNING *`,
    );
    this.taskById = db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?');
    this.liveSessionsOfSp = db.prepare<[string, string, number], SessionRow>(
      `SELECT * FROM sessions WHERE sp_entity_id = ? AND name_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at`,
    );
    this.revokeSession = db.prepare<[number, string, string, number], SessionRow>(
      `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING *`,
    );
    this.due = db.prepare<[number, number], DeliveryRow>(
      // rowid (queue order) breaks ties in the index's own order: no sort of every due row for each batch.
      `SELECT * FROM logout_outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?`,
    );
    this.lease = db.prepare<[number, string]>(`UPDATE logout_outbox SET next_attempt_at = ? WHERE id = ?`);
    this.finish = db.prepare<[string, number, string | null, string]>(
      `UPDATE logout_outbox SET state = ?, finished_at = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
    );
    this.fail = db.prepare<[number, number, string, string]>(
      `UPDATE logout_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'`,
    );
    this.resume = db.prepare<[number, number]>(
      `UPDATE logout_outbox SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`,
    );
    this.nextDue = db.prepare<[], { at: number | null }>(`SELECT MIN(next_attempt_at) AS at FROM logout_outbox WHERE state = 'pending'`);
    this.dueSps = db
      .prepare<[number], string>(`SELECT DISTINCT sp_entity_id FROM logout_outbox WHERE state = 'pending' AND next_attempt_at <= ?`)
      .pluck();
    this.skipDueOfSp = db.prepare<[number, string, number, string]>(
      `UPDATE logout_outbox SET state = 'skipped', finished_at = ?, last_error = ?
        WHERE state = 'pending' AND next_attempt_at <= ? AND sp_entity_id = ?`,
    );
    this.all = db.prepare<[], DeliveryRow>('SELECT * FROM logout_outbox ORDER BY created_at, id');
    // Through logout_outbox_finished (its WHERE is this one's), oldest first: a bounded batch per call.
    this.purgeFinishedBefore = db.prepare<[number, number]>(
      `DELETE FROM logout_outbox WHERE rowid IN (SELECT rowid FROM logout_outbox
         WHERE state <> 'pending' AND finished_at < ? ORDER BY finished_at LIMIT ?)`,
    );
  }

  async enqueue(sessions: readonly Session[], reason: string, at: Date): Promise<number> {
    return this.db.transaction(() => queueLogouts(this.db, sessions, reason, at)).immediate();
  }

  async endTask(taskId: string, status: TerminalTaskStatus, at: Date): Promise<TaskEndResult> {
    return this.db.transaction((): TaskEndResult => {
      const ended = this.endOpenTask.get(status, toMillis(at), taskId);
      if (ended) {
        const reason = `task_${status.toLowerCase()}`;
        const revokedSessions = revokeLiveSessions(this.db, 'task_id', taskId, at, reason);
        queueLogouts(this.db, revokedSessions, reason, at);
        return { outcome: 'ended', task: taskFromRow(ended), revokedSessions };
      }
      const existing = this.taskById.get(taskId);
      return existing ? { outcome: 'already_ended', task: taskFromRow(existing) } : { outcome: 'not_found' };
    }).immediate();
  }

  async revokeForSpLogout(spEntityId: string, sessionIds: readonly string[], at: Date): Promise<SloRevocation> {
    return this.db.transaction((): SloRevocation => {
      const revoked: Session[] = [];
      const taskIds = new Set<string>();
      for (const id of sessionIds) {
        const row = this.revokeSession.get(toMillis(at), 'sp_logout', id, toMillis(at));
        if (row && row.sp_entity_id === spEntityId) {
          revoked.push(sessionFromRow(row));
          taskIds.add(row.task_id);
        } else if (row) {
          throw new Error(`session ${id} does not belong to ${spEntityId}`);
        }
      }
      // The agent's sign-on for a task is one IdP session, whichever SPs it reached.
      const others: Session[] = [];
      for (const taskId of taskIds) others.push(...revokeLiveSessions(this.db, 'task_id', taskId, at, 'sp_logout'));
      const queued = queueLogouts(this.db, others, 'sp_logout', at);
      return { revoked: [...revoked, ...others], queued };
    }).immediate();
  }

  async findLiveSessions(spEntityId: string, nameId: string, sessionIndexes: readonly string[], now: Date): Promise<Session[]> {
    const live = this.liveSessionsOfSp.all(spEntityId, nameId, toMillis(now)).map(sessionFromRow);
    return sessionIndexes.length === 0 ? live : live.filter((session) => sessionIndexes.includes(session.sessionIndex));
  }

  async dueServiceProviders(now: Date): Promise<string[]> {
    return this.dueSps.all(toMillis(now));
  }

  async skipDue(spEntityId: string, now: Date, detail: string): Promise<number> {
    return this.skipDueOfSp.run(toMillis(now), detail, toMillis(now), spEntityId).changes;
  }

  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<LogoutDelivery[]> {
    return this.db.transaction(() => {
      const rows = this.due.all(toMillis(now), limit);
      for (const row of rows) this.lease.run(toMillis(leaseUntil), row.id);
      return rows.map(deliveryFromRow);
    }).immediate();
  }

  async markFinished(id: string, state: 'delivered' | 'skipped' | 'abandoned', at: Date, detail: string | undefined): Promise<void> {
    this.finish.run(state, toMillis(at), detail ?? null, id);
  }

  async markFailed(id: string, attempts: number, nextAttemptAt: Date, error: string): Promise<void> {
    this.fail.run(attempts, toMillis(nextAttemptAt), error.slice(0, 1000), id);
  }

  async resumePending(now: Date): Promise<number> {
    return this.resume.run(toMillis(now), toMillis(now)).changes;
  }

  async purgeFinished(before: Date, limit: number): Promise<number> {
    return this.purgeFinishedBefore.run(toMillis(before), limit).changes;
  }

  async nextDueAt(): Promise<Date | undefined> {
    const at = this.nextDue.get()?.at;
    return at === null || at === undefined ? undefined : fromMillis(at);
  }

  async list(): Promise<LogoutDelivery[]> {
    return this.all.all().map(deliveryFromRow);
  }
}
