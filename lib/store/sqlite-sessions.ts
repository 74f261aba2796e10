import type { SqliteDatabase } from './database.js';
import type { Session, AuthnMethod } from '../sessions/session.js';
import type { SessionRepository } from '../sessions/session-repository.js';
import { fromMillis, optionalFromMillis, toMillis } from './rows.js';

export interface SessionRow {
  id: string;
  session_index: string;
  agent_id: string;
  task_id: string;
  sp_entity_id: string;
  name_id: string;
  name_id_format: string;
  assertion_id: string;
  authn_method: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}

export function sessionFromRow(row: SessionRow): Session {
  return {
    id: row.id,
    sessionIndex: row.session_index,
    agentId: row.agent_id,
    taskId: row.task_id,
    spEntityId: row.sp_entity_id,
    nameId: row.name_id,
    nameIdFormat: row.name_id_format,
    assertionId: row.assertion_id,
    authnMethod: row.authn_method as AuthnMethod,
    createdAt: fromMillis(row.created_at),
    expiresAt: fromMillis(row.expires_at),
    revokedAt: optionalFromMillis(row.revoked_at),
    revokeReason: row.revoke_reason ?? undefined,
  };
}

/**
 * Revokes live sessions selected by one column, inside the caller's transaction,
 * and returns them as they are after revocation.
 */
export function revokeLiveSessions(
  db: SqliteDatabase,
  column: 'agent_id' | 'task_id',
  value: string,
  at: Date,
  reason: string,
): Session[] {
  const rows = db
    .prepare<[number, string, string, number], SessionRow>(
      `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
        WHERE ${column} = ? AND revoked_at IS NULL AND expires_at > ?
        RETURNING *`,
    )
    .all(toMillis(at), reason, value, toMillis(at));
  return rows.map(sessionFromRow);
}

export class SqliteSessionRepository implements SessionRepository {
  private readonly insertIfOpen;
  private readonly byId;
  private readonly byIndex;
  private readonly liveForAgent;

  constructor(db: SqliteDatabase) {
    this.insertIfOpen = db.prepare(
      `INSERT INTO sessions (id, session_index, agent_id, task_id, sp_entity_id, name_id, name_id_format,
                             assertion_id, authn_method, created_at, expires_at)
       SELECT @id, @sessionIndex, @agentId, @taskId, @spEntityId, @nameId, @nameIdFormat,
              @assertionId, @authnMethod, @createdAt, @expiresAt
        WHERE EXISTS (SELECT 1 FROM tasks t JOIN agents a ON a.id = t.agent_id
                       WHERE t.id = @taskId AND t.agent_id = @agentId AND t.status = 'OPEN'
                         AND t.expires_at > @now AND a.active = 1)`,
    );
    this.byId = db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?');
    this.byIndex = db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE session_index = ?');
    this.liveForAgent = db.prepare<[string, number], SessionRow>(
      'SELECT * FROM sessions WHERE agent_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at',
    );
  }

  async createIfTaskOpen(session: Session, now: Date): Promise<boolean> {
    const result = this.insertIfOpen.run({
      id: session.id,
      sessionIndex: session.sessionIndex,
      agentId: session.agentId,
      taskId: session.taskId,
      spEntityId: session.spEntityId,
      nameId: session.nameId,
      nameIdFormat: session.nameIdFormat,
      assertionId: session.assertionId,
      authnMethod: session.authnMethod,
      createdAt: toMillis(session.createdAt),
      expiresAt: toMillis(session.expiresAt),
      now: toMillis(now),
    });
    return result.changes === 1;
  }

  async get(id: string): Promise<Session | undefined> {
    const row = this.byId.get(id);
    return row ? sessionFromRow(row) : undefined;
  }

  async getBySessionIndex(sessionIndex: string): Promise<Session | undefined> {
    const row = this.byIndex.get(sessionIndex);
    return row ? sessionFromRow(row) : undefined;
  }

  async listLiveForAgent(agentId: string, now: Date): Promise<Session[]> {
    return this.liveForAgent.all(agentId, toMillis(now)).map(sessionFromRow);
  }
}
