import type { Task, TerminalTaskStatus } from './task.js';
import type { Session } from '../sessions/session.js';

export type TaskEndResult =
  | { readonly outcome: 'ended'; readonly task: Task; readonly revokedSessions: readonly Session[] }
  | { readonly outcome: 'already_ended'; readonly task: Task }
  | { readonly outcome: 'not_found' };

export interface TaskRepository {
  create(task: Task): Promise<Task>;
  get(id: string): Promise<Task | undefined>;
  /** Ends an open task and revokes all its sessions in one transaction. */
  end(id: string, status: TerminalTaskStatus, at: Date): Promise<TaskEndResult>;
}
