import type { SqliteDatabase } from './database.js';
import type { Reason } from '../policy/decision.js';
import type {
  ApprovalDecisionOutcome,
  ApprovalRepository,
  ApprovalRequest,
  NewApprovalRequest,
  StoredApprovalStatus,
} from '../approvals/approval.js';
import { fromMillis, optionalFromMillis, parseJson, toMillis } from './rows.js';

interface ApprovalRow {
  id: string;
  agent_id: string;
  task_id: string;
  sp_entity_id: string | null;
  owner: string | null;
  reasons: string;
  risk_score: number;
  status: string;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  valid_until: number | null;
  consumed_at: number | null;
}

function approvalFromRow(row: ApprovalRow): ApprovalRequest {
  return {
    id: row.id,
    agentId: row.agent_id,
    taskId: row.task_id,
    spEntityId: row.sp_entity_id ?? undefined,
    owner: row.owner ?? undefined,
    reasons: parseJson<Reason[]>(row.reasons),
    riskScore: row.risk_score,
    status: row.status as StoredApprovalStatus,
    createdAt: fromMillis(row.created_at),
    expiresAt: fromMillis(row.expires_at),
    decidedAt: optionalFromMillis(row.decided_at),
    decidedBy: row.decided_by ?? undefined,
    validUntil: optionalFromMillis(row.valid_until),
    consumedAt: optionalFromMillis(row.consumed_at),
  };
}

export class SqliteApprovalRepository implements ApprovalRepository {
  private readonly pendingFor;
  private readonly insert;
  private readonly consume;
  private readonly byId;
  private readonly settle;
  private readonly release;

  constructor(private readonly db: SqliteDatabase) {
    this.pendingFor = db.prepare<{ agentId: string; taskId: string; sp: string | null; now: number }, ApprovalRow>(
      `SELECT * FROM approvals WHERE agent_id = @agentId AND task_id = @taskId AND status = 'pending'
          AND sp_entity_id IS @sp AND expires_at > @now ORDER BY created_at DESC LIMIT 1`,
    );
    this.insert = db.prepare(
      `INSERT INTO approvals (id, agent_id, task_id, sp_entity_id, owner, reasons, risk_score, status, created_at, expires_at)
       VALUES (@id, @agentId, @taskId, @sp, @owner, @reasons, @riskScore, 'pending', @createdAt, @expiresAt)`,
    );
    this.consume = db.prepare<{ agentId: string; taskId: string; sp: string; now: number }, ApprovalRow>(
      `UPDATE approvals SET status = 'consumed', consumed_at = @now
        WHERE id = (SELECT id FROM approvals
                     WHERE agent_id = @agentId AND task_id = @taskId AND status = 'approved'
                       AND (sp_entity_id IS NULL OR sp_entity_id = @sp) AND valid_until > @now
                     ORDER BY decided_at LIMIT 1)
        RETURNING *`,
    );
    this.byId = db.prepare<[string], ApprovalRow>('SELECT * FROM approvals WHERE id = ?');
    this.settle = db.prepare<{ id: string; status: string; by: string; now: number; validUntil: number | null }, ApprovalRow>(
      `UPDATE approvals SET status = @status, decided_at = @now, decided_by = @by, valid_until = @validUntil
        WHERE id = @id AND status = 'pending' AND expires_at > @now RETURNING *`,
    );
    this.release = db.prepare<[string]>('UPDATE agent_baselines SET held_since = NULL WHERE agent_id = ?');
  }

  async requestOrReuse(candidate: NewApprovalRequest, now: Date): Promise<{ request: ApprovalRequest; created: boolean }> {
    return this.db
      .transaction(() => {
        const existing = this.pendingFor.get({ agentId: candidate.agentId, taskId: candidate.taskId, sp: candidate.spEntityId ?? null, now: toMillis(now) });
        if (existing) return { request: approvalFromRow(existing), created: false };
        this.insert.run({
          id: candidate.id,
          agentId: candidate.agentId,
          taskId: candidate.taskId,
          sp: candidate.spEntityId ?? null,
          owner: candidate.owner ?? null,
          reasons: JSON.stringify(candidate.reasons),
          riskScore: candidate.riskScore,
          createdAt: toMillis(candidate.createdAt),
          expiresAt: toMillis(candidate.expiresAt),
        });
        return { request: approvalFromRow(this.byId.get(candidate.id)!), created: true };
      })
      .immediate();
  }

  async consumeGranted(agentId: string, taskId: string, spEntityId: string, now: Date): Promise<ApprovalRequest | undefined> {
    const row = this.consume.get({ agentId, taskId, sp: spEntityId, now: toMillis(now) });
    return row ? approvalFromRow(row) : undefined;
  }

  async decide(id: string, status: 'approved' | 'denied', decidedBy: string, now: Date, validForSeconds: number): Promise<ApprovalDecisionOutcome> {
    return this.db
      .transaction((): ApprovalDecisionOutcome => {
        const validUntil = status === 'approved' ? toMillis(now) + validForSeconds * 1000 : null;
        const row = this.settle.get({ id, status, by: decidedBy, now: toMillis(now), validUntil });
        if (!row) {
          const current = this.byId.get(id);
          return current ? { outcome: 'not_pending', request: approvalFromRow(current) } : { outcome: 'not_found' };
        }
        if (status === 'approved') this.release.run(row.agent_id);
        return { outcome: 'decided', request: approvalFromRow(row) };
      })
      .immediate();
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const row = this.byId.get(id);
    return row ? approvalFromRow(row) : undefined;
  }

  async list(filter: { taskId?: string; pendingAt?: Date }): Promise<ApprovalRequest[]> {
    const clauses: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.taskId !== undefined) {
      clauses.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.pendingAt !== undefined) {
      clauses.push("status = 'pending' AND expires_at > @now");
      params.now = toMillis(filter.pendingAt);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return this.db.prepare<Record<string, string | number>, ApprovalRow>(`SELECT * FROM approvals ${where} ORDER BY created_at`).all(params).map(approvalFromRow);
  }
}
