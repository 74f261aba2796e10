import type { SqliteDatabase } from './database.js';
import type { Task, TaskContext, StoredTaskStatus, TerminalTaskStatus } from '../tasks/task.js';
import type { TaskEndResult, TaskRepository } from '../tasks/task-repository.js';
import type { SensitivityTier } from '../config/index.js';
import { fromMillis, optionalFromMillis, parseJson, toMillis } from './rows.js';
import { revokeLiveSessions } from './sqlite-sessions.js';

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

export class SqliteTaskRepository implements TaskRepository {
  private readonly insert;
  private readonly byId;
  private readonly endOpen;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO tasks (id, agent_id, scopes, tier, audiences, context, status, created_at, expires_at)
       VALUES (@id, @agentId, @scopes, @tier, @audiences, @context, @status, @createdAt, @expiresAt)`,
    );
    this.byId = db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?');
    this.endOpen = db.prepare<[string, number, string], TaskRow>(
      `UPDATE tasks SET status = ?, ended_at = ? WHERE id = ? AND status = 'OPEN' RETURNING *`,
    );
  }

  async create(task: Task): Promise<Task> {
    this.insert.run({
      id: task.id,
      agentId: task.agentId,
      scopes: JSON.stringify(task.scopes),
      tier: task.tier,
      audiences: JSON.stringify(task.audiences),
      context: JSON.stringify(task.context),
      status: task.status,
      createdAt: toMillis(task.createdAt),
      expiresAt: toMillis(task.expiresAt),
    });
    return task;
  }

  async get(id: string): Promise<Task | undefined> {
    const row = this.byId.get(id);
    return row ? taskFromRow(row) : undefined;
  }

  async end(id: string, status: TerminalTaskStatus, at: Date): Promise<TaskEndResult> {
    return this.db.transaction((): TaskEndResult => {
      const ended = this.endOpen.get(status, toMillis(at), id);
      if (ended) {
        const revokedSessions = revokeLiveSessions(this.db, 'task_id', id, at, `task_${status.toLowerCase()}`);
        return { outcome: 'ended', task: taskFromRow(ended), revokedSessions };
      }
      const existing = this.byId.get(id);
      return existing ? { outcome: 'already_ended', task: taskFromRow(existing) } : { outcome: 'not_found' };
    }).immediate();
  }
}
