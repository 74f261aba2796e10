import { TesseraError } from '../common/errors.js';
import { addressInRanges } from '../common/cidr.js';
import type { Agent } from '../agents/index.js';
import type { TaskRepository } from './task-repository.js';
import { effectiveTaskStatus, type Task } from './task.js';

export interface TaskAuthorizationInput {
  readonly taskId: string | undefined;
  readonly agent: Agent;
  readonly spEntityId: string;
  readonly sourceAddress: string;
  readonly now: Date;
}

export interface AuthorizedTask {
  readonly task: Task;
  /** The task's scopes that the agent still holds: what the assertion may carry. */
  readonly grantedScopes: readonly string[];
}

/** Task-ID must name an open task of this agent that allows this SP from this address. */
export async function authorizeTask(tasks: TaskRepository, input: TaskAuthorizationInput): Promise<AuthorizedTask> {
  if (input.taskId === undefined || input.taskId.trim() === '') {
    throw new TesseraError('task_missing', 'the Task-ID header is required: every sign-on is bound to one task');
  }
  const task = await tasks.get(input.taskId.trim());
  if (!task) throw new TesseraError('task_unknown', 'the Task-ID does not name a known task');
  if (task.agentId !== input.agent.id) throw new TesseraError('task_wrong_agent', 'the task belongs to another agent');
  const status = effectiveTaskStatus(task, input.now);
  if (status !== 'OPEN') throw new TesseraError('task_not_open', `the task is ${status.toLowerCase()}`);
  if (task.audiences.length > 0 && !task.audiences.includes(input.spEntityId)) {
    throw new TesseraError('task_audience_mismatch', 'the task does not list this SP among its audiences');
  }
  if (task.context.cidrs.length > 0 && !addressInRanges(input.sourceAddress, task.context.cidrs)) {
    throw new TesseraError('task_context_violation', "the source address is outside the task's CIDR ranges");
  }
  const agentRanges = input.agent.profile.allowedCidrs;
  if (agentRanges.length > 0 && !addressInRanges(input.sourceAddress, agentRanges)) {
    throw new TesseraError('task_context_violation', "the source address is outside the agent's allowed CIDR ranges");
  }
  if (task.context.computeZone !== undefined && input.agent.profile.computeZone !== task.context.computeZone) {
    throw new TesseraError('task_context_violation', "the agent's compute zone does not match the task's");
  }
  // Grants withdrawn since the task opened narrow what this sign-on carries.
  const held = new Set(input.agent.grantedScopes);
  return { task, grantedScopes: task.scopes.filter((scope) => held.has(scope)) };
}
