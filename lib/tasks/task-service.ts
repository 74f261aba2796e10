import type { Clock } from '../common/clock.js';
import { addSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import { timeOrderedUuid } from '../common/time-ordered-ids.js';
import { parseCidr } from '../common/cidr.js';
import { isSensitivityTier, type Config } from '../config/index.js';
import type { AgentRepository } from '../agents/index.js';
import type { ServiceProviderRepository } from '../saml/sp-repository.js';
import type { TaskRepository, TaskEndResult } from './task-repository.js';
import type { LogoutOutbox } from '../sessions/logout-outbox.js';
import { TERMINAL_TASK_STATUSES, type Task, type TerminalTaskStatus } from './task.js';

export interface TaskServiceDeps {
  readonly tasks: TaskRepository;
  readonly agents: AgentRepository;
  readonly serviceProviders: ServiceProviderRepository;
  readonly clock: Clock;
  readonly config: Pick<Config, 'tasks'>;
  /** Ends a task, revokes its sessions and queues their back-channel logouts in one transaction. */
  readonly revocations: Pick<LogoutOutbox, 'endTask'>;
}

const TASK_FIELDS = new Set(['agent', 'scopes', 'tier', 'audiences', 'ttlSeconds', 'context']);
const CONTEXT_FIELDS = new Set(['cidrs', 'computeZone']);
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/; // RFC 6749 scope-token

/** Opens a task for an agent, within what the agent has been granted. */
export async function openTask(deps: TaskServiceDeps, body: unknown): Promise<Task> {
  const input = asObject(body, 'the request body');
  rejectUnknownFields(input, TASK_FIELDS, '');
  const userName = requireString(input.agent, 'agent');
  const scopes = stringArray(input.scopes, 'scopes');
  for (const scope of scopes) {
    if (!SCOPE_PATTERN.test(scope)) throw invalid(`scope "${scope}" is not a valid scope token`);
  }
  if (!isSensitivityTier(input.tier)) throw invalid('tier must be "high", "medium" or "low"');
  const audiences = input.audiences === undefined ? [] : stringArray(input.audiences, 'audiences');
  const ttlSeconds = input.ttlSeconds === undefined ? deps.config.tasks.defaultTtlSeconds : input.ttlSeconds;
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > deps.config.tasks.maxTtlSeconds) {
    throw invalid(`ttlSeconds must be an integer from 1 to ${deps.config.tasks.maxTtlSeconds}`);
  }
  const context = parseContext(input.context);

  const agent = await deps.agents.getByUserName(userName);
  if (!agent) throw invalid(`no agent with userName "${userName}"`);
  if (!agent.active) throw invalid(`agent "${userName}" is not active`);
  const granted = new Set(agent.grantedScopes);
  const notGranted = scopes.filter((s) => !granted.has(s));
  if (notGranted.length > 0) {
    throw new TesseraError('scope_not_granted', `scopes not granted to agent "${userName}": ${notGranted.join(', ')}`);
  }
  for (const audience of audiences) {
    if (!(await deps.serviceProviders.get(audience))) throw invalid(`audience "${audience}" is not a registered SP`);
  }
  if (context.computeZone !== undefined && agent.profile.computeZone !== undefined && context.computeZone !== agent.profile.computeZone) {
    throw invalid(`agent "${userName}" runs in compute zone "${agent.profile.computeZone}", not "${context.computeZone}"`);
  }

  const now = deps.clock.now();
  return deps.tasks.create({
    id: timeOrderedUuid(),
    agentId: agent.id,
    scopes: [...new Set(scopes)],
    tier: input.tier,
    audiences: [...new Set(audiences)],
    context,
    status: 'OPEN',
    createdAt: now,
    expiresAt: addSeconds(now, ttlSeconds),
    endedAt: undefined,
  });
}

/** Ends a task; its sessions are revoked in the same transaction. */
export async function endTask(deps: TaskServiceDeps, taskId: string, body: unknown): Promise<TaskEndResult & { outcome: 'ended' }> {
  const input = asObject(body, 'the request body');
  rejectUnknownFields(input, new Set(['status']), '');
  const status = input.status;
  if (typeof status !== 'string' || !(TERMINAL_TASK_STATUSES as readonly string[]).includes(status)) {
    throw invalid('status must be "COMPLETED", "FAILED" or "CANCELLED"');
  }
  const result = await deps.revocations.endTask(taskId, status as TerminalTaskStatus, deps.clock.now());
  if (result.outcome === 'not_found') throw new TesseraError('not_found', `no task ${taskId}`);
  if (result.outcome === 'already_ended') {
    throw new TesseraError('conflict', `task ${taskId} has already ended (${result.task.status})`);
  }
  return result;
}

function parseContext(value: unknown): Task['context'] {
  if (value === undefined) return { cidrs: [], computeZone: undefined };
  const context = asObject(value, 'context');
  rejectUnknownFields(context, CONTEXT_FIELDS, 'context.');
  const cidrs = context.cidrs === undefined ? [] : stringArray(context.cidrs, 'context.cidrs');
  for (const cidr of cidrs) {
    if (!parseCidr(cidr)) throw invalid(`context.cidrs: "${cidr}" is not an IP address or CIDR range`);
  }
  const computeZone = context.computeZone === undefined ? undefined : requireString(context.computeZone, 'context.computeZone');
  return { cidrs, computeZone };
}

function invalid(message: string): TesseraError {
  return new TesseraError('invalid_value', message);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function rejectUnknownFields(input: Record<string, unknown>, known: ReadonlySet<string>, prefix: string): void {
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  if (unknown.length > 0) throw invalid(`unknown field ${prefix}${unknown[0]}`);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) {
    throw invalid(`${field} must be a non-empty string`);
  }
  return value;
}

function stringArray(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0) || value.length > 256) {
    throw invalid(`${field} must be an array of non-empty strings`);
  }
  return value as string[];
}
