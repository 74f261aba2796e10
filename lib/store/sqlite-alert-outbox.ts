import { randomUUID } from 'node:crypto';
import type { SqliteDatabase } from './database.js';
import type { AlertDelivery, AlertOutbox, NewAlert } from '../alerts/alert-outbox.js';
import { fromMillis, optionalFromMillis, toMillis } from './rows.js';

interface AlertRow {
  id: string;
  event_id: string;
  kind: string;
  webhook: string;
  payload: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

function deliveryFromRow(row: AlertRow): AlertDelivery {
  return {
    id: row.id,
    eventId: row.event_id,
    kind: row.kind,
    webhook: row.webhook,
    payload: row.payload,
    state: row.state as AlertDelivery['state'],
    attempts: row.attempts,
    nextAttemptAt: fromMillis(row.next_attempt_at),
    lastError: row.last_error ?? undefined,
    createdAt: fromMillis(row.created_at),
    finishedAt: optionalFromMillis(row.finished_at),
  };
}

export class SqliteAlertOutbox implements AlertOutbox {
  private readonly insert;
  private readonly due;
  private readonly lease;
  private readonly delivered;
  private readonly failed;
  private readonly abandoned;
  private readonly nextDue;
  private readonly all;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare<[string, string, string, string, string, number, number]>(
      `INSERT INTO alert_outbox (id, event_id, kind, webhook, payload, state, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
    );
    this.due = db.prepare<[number, number], AlertRow>(
      "SELECT * FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
    );
    this.lease = db.prepare<[number, string]>('UPDATE alert_outbox SET next_attempt_at = ? WHERE id = ?');
    this.delivered = db.prepare<[number, string]>("UPDATE alert_outbox SET state = 'delivered', finished_at = ?, last_error = NULL WHERE id = ?");
    this.failed = db.prepare<[number, number, string, string]>('UPDATE alert_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?');
    this.abandoned = db.prepare<[number, string, string]>("UPDATE alert_outbox SET state = 'abandoned', finished_at = ?, last_error = ? WHERE id = ?");
    this.nextDue = db.prepare<[], number | null>("SELECT MIN(next_attempt_at) FROM alert_outbox WHERE state = 'pending'").pluck();
    this.all = db.prepare<[], AlertRow>('SELECT * FROM alert_outbox ORDER BY created_at, id');
  }

  async enqueue(alerts: readonly NewAlert[], at: Date): Promise<void> {
    this.db.transaction(() => {
      for (const alert of alerts) this.insert.run(randomUUID(), alert.eventId, alert.kind, alert.webhook, alert.payload, toMillis(at), toMillis(at));
    })();
  }

  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<AlertDelivery[]> {
    return this.db
      .transaction(() => {
        const rows = this.due.all(toMillis(now), limit);
        for (const row of rows) this.lease.run(toMillis(leaseUntil), row.id);
        return rows.map(deliveryFromRow);
      })
      .immediate();
  }

  async markDelivered(id: string, at: Date): Promise<void> {
    this.delivered.run(toMillis(at), id);
  }

  async markFailed(id: string, attempts: number, nextAttemptAt: Date, error: string): Promise<void> {
    this.failed.run(attempts, toMillis(nextAttemptAt), error.slice(0, 500), id);
  }

  async markAbandoned(id: string, at: Date, error: string): Promise<void> {
    this.abandoned.run(toMillis(at), error.slice(0, 500), id);
  }

  async nextDueAt(): Promise<Date | undefined> {
    const next = this.nextDue.get();
    return next === null || next === undefined ? undefined : fromMillis(next);
  }

  async list(): Promise<AlertDelivery[]> {
    return this.all.all().map(deliveryFromRow);
  }
}
