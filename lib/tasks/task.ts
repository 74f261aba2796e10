import type { SensitivityTier } from '../config/index.js';

export const TERMINAL_TASK_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type TerminalTaskStatus = (typeof TERMINAL_TASK_STATUSES)[number];
export type StoredTaskStatus = 'OPEN' | TerminalTaskStatus;
/** EXPIRED is derived: an OPEN task whose expiry has passed. */
export type TaskStatus = StoredTaskStatus | 'EXPIRED';

export interface TaskContext {
  /** Source addresses the agent may sign on from; empty means any. */
  readonly cidrs: readonly string[];
  readonly computeZone: string | undefined;
}

export interface Task {
  readonly id: string;
  readonly agentId: string;
  readonly scopes: readonly string[];
  readonly tier: SensitivityTier;
  /** SP entityIDs the task may reach; empty means any registered SP. */
  readonly audiences: readonly string[];
  readonly context: TaskContext;
  readonly status: StoredTaskStatus;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly endedAt: Date | undefined;
}

export function effectiveTaskStatus(task: Task, now: Date): TaskStatus {
  if (task.status === 'OPEN' && now.getTime() >= task.expiresAt.getTime()) return 'EXPIRED';
  return task.status;
}
