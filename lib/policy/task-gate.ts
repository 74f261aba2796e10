import { TesseraError } from '../common/errors.js';
import type { AgentRepository } from '../agents/index.js';
import type { TaskRepository } from '../tasks/task-repository.js';
import type { PolicyEnforcer } from './enforcer.js';

/**
 * The task repository as the Tasks API sees it when policy is on: a task is
 * recorded only after the policy allowed its opening (the checks before it — body,
 * agent, grants, audiences — stay the task service's own).
 */
export function policyGatedTasks(tasks: TaskRepository, agents: AgentRepository, policy: PolicyEnforcer, sourceAddress: string): TaskRepository {
  return new Proxy(tasks, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'create') return (value as (...args: unknown[]) => unknown).bind(target);
      const create = target.create.bind(target);
      return async (task: Parameters<TaskRepository['create']>[0]) => {
        const agent = await agents.get(task.agentId);
        // Fail closed: an agent gone since the task service looked it up opens nothing.
        if (!agent) throw new TesseraError('invalid_value', 'the agent no longer exists');
        await policy.checkTaskOpening(agent, task, sourceAddress, task.createdAt);
        return create(task);
      };
    },
  });
}
