import type { SqliteDatabase } from './database.js';
import { chainEntry, GENESIS_HASH, storedColumns, type AuditEntry, type NewAuditEntry, type RawAuditRow } from '../audit/audit-entry.js';
import type { AuditCheckpoint, AuditFilter, AuditHead, AuditStore, RawCheckpointRow } from '../audit/audit-store.js';
import { fromMillis, toMillis } from './rows.js';

interface AuditRow {
  seq: number;
  at: number;
  event: string;
  actor: string;
  agent_id: string | null;
  agent_user_name: string | null;
  task_id: string | null;
  sp_entity_id: string | null;
  assertion_id: string | null;
  session_id: string | null;
  model_hash: string | null;
  source_commit: string | null;
  training_data_version: string | null;
  reason: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

interface CheckpointRow {
  seq: number;
  hash: string;
  at: number;
  key_id: string;
  certificate_pem: string;
  algorithm: string;
  signature: string;
}

function entryFromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    at: fromMillis(row.at),
    event: row.event,
    actor: row.actor,
    agentId: row.agent_id,
    agentUserName: row.agent_user_name,
    taskId: row.task_id,
    spEntityId: row.sp_entity_id,
    assertionId: row.assertion_id,
    sessionId: row.session_id,
    modelHash: row.model_hash,
    sourceCommit: row.source_commit,
    trainingDataVersion: row.training_data_version,
    reason: row.reason,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function checkpointFromRow(row: CheckpointRow): AuditCheckpoint {
  return {
    seq: row.seq,
    hash: row.hash,
    at: fromMillis(row.at),
    keyId: row.key_id,
    certificatePem: row.certificate_pem,
    algorithm: row.algorithm as AuditCheckpoint['algorithm'],
    signature: row.signature,
  };
}

/** The audit trail in SQLite: one table, chained by SHA-256, append-only by trigger. */
export class SqliteAuditStore implements AuditStore {
  private readonly headRow;
  private readonly insert;
  private readonly lastCheckpointRow;
  private readonly insertCheckpoint;
  private readonly appendAll;

  constructor(private readonly db: SqliteDatabase) {
    this.headRow = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, at, event, actor, agent_id, agent_user_name, task_id, sp_entity_id, assertion_id,
                              session_id, model_hash, source_commit, training_data_version, reason, details, prev_hash, hash)
       VALUES (@seq, @at, @event, @actor, @agent_id, @agent_user_name, @task_id, @sp_entity_id, @assertion_id,
               @session_id, @model_hash, @source_commit, @training_data_version, @reason, @details, @prev_hash, @hash)`,
    );
    this.lastCheckpointRow = db.prepare<[], CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
    this.insertCheckpoint = db.prepare(
      `INSERT INTO audit_checkpoints (seq, hash, at, key_id, certificate_pem, algorithm, signature)
       VALUES (@seq, @hash, @at, @keyId, @certificatePem, @algorithm, @signature) ON CONFLICT (seq) DO NOTHING`,
    );
    // IMMEDIATE: the head is read under the write lock, so two processes never chain onto the same head.
    this.appendAll = db.transaction((entries: readonly NewAuditEntry[]): AuditEntry[] => {
      let head = this.currentHead();
      const chained: AuditEntry[] = [];
      for (const entry of entries) {
        const next = chainEntry(entry, head.seq + 1, head.hash);
        this.insert.run(storedColumns(next));
        chained.push(next);
        head = { seq: next.seq, hash: next.hash };
      }
      return chained;
    });
  }

  private currentHead(): AuditHead {
    return this.headRow.get() ?? { seq: 0, hash: GENESIS_HASH };
  }

  async append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    if (entries.length === 0) return [];
    return this.appendAll.immediate(entries);
  }

  /**
   * Appends inside the caller's transaction on this connection (as a savepoint), so a
   * change and its record commit together or not at all.
   */
  appendWithin(entry: NewAuditEntry): AuditEntry {
    return this.appendAll.immediate([entry])[0]!;
  }

  async head(): Promise<AuditHead> {
    return this.currentHead();
  }

  async lastCheckpoint(): Promise<AuditCheckpoint | undefined> {
    const row = this.lastCheckpointRow.get();
    return row ? checkpointFromRow(row) : undefined;
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<boolean> {
    return this.insertCheckpoint.run({ ...checkpoint, at: toMillis(checkpoint.at) }).changes === 1;
  }

  /** Holds this connection for the whole scan: for the command line, not for the server. */
  async *scanRaw(): AsyncIterable<RawAuditRow> {
    for (const row of this.db.prepare<[], RawAuditRow>('SELECT * FROM audit_log ORDER BY seq').iterate()) yield row;
  }

  async checkpointsRaw(): Promise<RawCheckpointRow[]> {
    return this.db.prepare<[], RawCheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY seq').all();
  }

  async *query(filter: AuditFilter): AsyncIterable<AuditEntry> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.agent !== undefined) {
      where.push('(agent_id = @agent OR agent_user_name = @agent COLLATE NOCASE)');
      params.agent = filter.agent;
    }
    if (filter.taskId !== undefined) {
      where.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.since !== undefined) {
      where.push('at >= @since');
      params.since = toMillis(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('at < @until');
      params.until = toMillis(filter.until);
    }
    const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    for (const row of this.db.prepare<[Record<string, string | number>], AuditRow>(sql).iterate(params)) yield entryFromRow(row);
  }
}
