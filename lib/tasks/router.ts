import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import type { AgentRepository } from '../agents/index.js';
import { auditedAgent, type AuditLog } from '../audit/index.js';
import type { Clock } from '../common/clock.js';
import { isoSeconds } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { TesseraError } from '../common/errors.js';
import { asTesseraError } from '../http/error-mapping.js';
import { sendProblem } from '../http/responses.js';
import { effectiveTaskStatus, type Task } from './task.js';
import { endTask, openTask, type TaskServiceDeps } from './task-service.js';
import type { PolicyEnforcer } from '../policy/enforcer.js';
import { policyGatedTasks } from '../policy/task-gate.js';
import type { ApprovalRepository } from '../approvals/approval.js';
import { mountApprovalRoutes } from '../approvals/routes.js';

export interface TasksRouterDeps extends TaskServiceDeps {
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly agents: AgentRepository;
  readonly clock: Clock;
  readonly maxJsonBytes: number;
  readonly authenticate: (req: Request, res: Response, next: NextFunction) => void;
  /** Called with every task end, for the logout fan-out and audit. */
  readonly onTaskEnded?: (event: { task: Task; revokedSessionCount: number }) => void;
  /** Policy on task opening (issue 7); absent, every valid task opens. */
  readonly policy?: PolicyEnforcer;
  /** Step-up approvals, listed and decided under /{taskId}/approvals. */
  readonly approvals?: ApprovalRepository;
}

/** The Tasks API (JSON, RFC 9457 problems): mounted at /api/v1/tasks. */
export function tasksRouter(deps: TasksRouterDeps): Router {
  const router = express.Router();
  router.use(deps.authenticate);
  router.use(express.json({ limit: deps.maxJsonBytes, type: ['application/json', 'application/*+json'], strict: true }));

  const represent = async (task: Task) => {
    const agent = await deps.agents.get(task.agentId);
    return {
      taskId: task.id,
      agent: agent?.userName ?? null,
      scopes: task.scopes,
      tier: task.tier,
      audiences: task.audiences,
      context: { cidrs: task.context.cidrs, ...(task.context.computeZone ? { computeZone: task.context.computeZone } : {}) },
      status: effectiveTaskStatus(task, deps.clock.now()),
      createdAt: isoSeconds(task.createdAt),
      expiresAt: isoSeconds(task.expiresAt),
      ...(task.endedAt ? { endedAt: isoSeconds(task.endedAt) } : {}),
    };
  };

  router.post('/', async (req, res) => {
    requireJson(req);
    const task = await openTask(
      deps.policy ? { ...deps, tasks: policyGatedTasks(deps.tasks, deps.agents, deps.policy, req.socket.remoteAddress ?? '') } : deps,
      req.body,
    );
    const agent = await deps.agents.get(task.agentId);
    await deps.audit.record({
      event: 'task.opened',
      actor: `orchestrator:${orchestratorName(res)}`,
      agent: agent ? auditedAgent(agent) : undefined,
      taskId: task.id,
      details: { scopes: task.scopes, tier: task.tier, audiences: task.audiences, expiresAt: task.expiresAt.toISOString() },
    });
    res.status(201).location(`${req.baseUrl}/${task.id}`).json(await represent(task));
  });

  router.get('/:taskId', async (req, res) => {
    const task = await deps.tasks.get(req.params.taskId!);
    if (!task) throw new TesseraError('not_found', `no task ${req.params.taskId}`);
    res.json(await represent(task));
  });

  router.patch('/:taskId', async (req, res) => {
    requireJson(req);
    const result = await endTask(deps, req.params.taskId!, req.body);
    const revokedSessionCount = result.revokedSessions.length;
    const agent = await deps.agents.get(result.task.agentId);
    await deps.audit.record({
      event: 'task.ended',
      actor: `orchestrator:${orchestratorName(res)}`,
      agent: agent ? auditedAgent(agent) : undefined,
      taskId: result.task.id,
      details: { status: result.task.status, revokedSessions: result.revokedSessions.map((s) => s.id) },
    });
    deps.onTaskEnded?.({ task: result.task, revokedSessionCount });
    res.json({ ...(await represent(result.task)), revokedSessions: revokedSessionCount });
  });

  if (deps.approvals) {
    mountApprovalRoutes(router, {
      approvals: deps.approvals,
      audit: deps.audit,
      clock: deps.clock,
      validForSeconds: deps.policy?.policy.approvals.validForSeconds ?? 300,
      actor: (res) => `orchestrator:${orchestratorName(res)}`,
    });
  }

  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const tesseraError = asTesseraError(error);
    if (tesseraError.code === 'internal') deps.logger.error('tasks.internal_error', { detail: tesseraError.internalDetail });
    sendProblem(req, res, tesseraError);
  });
  return router;
}

function requireJson(req: Request): void {
  if (!req.is(['application/json', 'application/*+json'])) {
    throw new TesseraError('unsupported_media_type', 'send the body as application/json');
  }
}

function orchestratorName(res: Response): string {
  const orchestrator: unknown = res.locals.orchestrator;
  return typeof orchestrator === 'object' && orchestrator !== null && 'name' in orchestrator ? String(orchestrator.name) : 'unknown';
}
