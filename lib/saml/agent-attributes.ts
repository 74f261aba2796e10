import type { Agent } from '../agents/index.js';
import type { Task } from '../tasks/task.js';
import type { SamlAttribute } from './response.js';

/** The attribute names of the external contract (DESIGN.md, "Assertion contents"). */
export const AGENT_ATTRIBUTE = {
  agentId: 'AI-Agent-ID',
  taskId: 'Task-ID',
  scope: 'Agent-Scope',
  tier: 'Sensitivity-Tier',
  modelHash: 'Model-Hash',
  sourceCommit: 'Source-Commit',
  trainingDataVersion: 'Training-Data-Version',
  computeZone: 'Compute-Zone',
} as const;

/**
 * What the assertion says about the agent; an attribute without a value is left out,
 * and so is one the SP's policy does not release to it (`release`: undefined = all).
 */
export function agentAttributes(agent: Agent, task: Task, grantedScopes: readonly string[], release?: readonly string[]): SamlAttribute[] {
  const single = (name: string, value: string | undefined): SamlAttribute => ({ name, values: value === undefined ? [] : [value] });
  return [
    single(AGENT_ATTRIBUTE.agentId, agent.userName),
    single(AGENT_ATTRIBUTE.taskId, task.id),
    { name: AGENT_ATTRIBUTE.scope, values: grantedScopes },
    single(AGENT_ATTRIBUTE.tier, task.tier),
    single(AGENT_ATTRIBUTE.modelHash, agent.profile.modelHash),
    single(AGENT_ATTRIBUTE.sourceCommit, agent.profile.sourceCommit),
    single(AGENT_ATTRIBUTE.trainingDataVersion, agent.profile.trainingDataVersion),
    single(AGENT_ATTRIBUTE.computeZone, agent.profile.computeZone),
  ].filter((attribute) => attribute.values.length > 0 && (release === undefined || release.includes(attribute.name)));
}
