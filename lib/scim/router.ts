import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AgentEndResult, AgentRepository } from '../agents/index.js';
import { auditedAgent, type AuditLog } from '../audit/index.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { TesseraError } from '../common/errors.js';
import { asTesseraError } from '../http/error-mapping.js';
import { sendScimError } from '../http/responses.js';
import { agentFromScim, agentToScim } from './agent-resource.js';
import { activeFromPatch } from './patch-active.js';
import { SCIM_CONTENT_TYPE } from './schemas.js';

export interface ScimRouterDeps {
  readonly agents: AgentRepository;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
  /** The absolute URL the router is mounted at, for meta.location. */
  readonly baseUrl: string;
  readonly maxJsonBytes: number;
  readonly authenticate: (req: Request, res: Response, next: NextFunction) => void;
  /** Called after an agent lost its sessions (deactivated or deleted), for the logout fan-out. */
  readonly onAgentEnded?: (result: AgentEndResult, reason: 'deactivated' | 'deleted') => void;
}

/** SCIM 2.0 (RFC 7644) for agents: mounted at /scim/v2. */
export function scimRouter(deps: ScimRouterDeps): Router {
  const router = express.Router();
  router.use(deps.authenticate);
  router.use(express.json({ limit: deps.maxJsonBytes, type: [SCIM_CONTENT_TYPE, 'application/json'], strict: true }));
  const locationOf = (id: string) => `${deps.baseUrl}/Users/${encodeURIComponent(id)}`;
  const send = (res: Response, status: number, body: unknown) => res.status(status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(body));

  router.post('/Users', async (req, res) => {
    requireScimJson(req);
    const agent = await deps.agents.create(agentFromScim(req.body, deps.clock.now()), deps.clock.now());
    await deps.audit.record({
      event: 'agent.provisioned',
      actor: actorOf(res),
      agent: auditedAgent(agent),
      details: { active: agent.active, certificates: agent.certificates.map((c) => c.thumbprint), profile: agent.profile },
    });
    res.location(locationOf(agent.id));
    send(res, 201, agentToScim(agent, locationOf(agent.id)));
  });

  router.get('/Users/:id', async (req, res) => {
    const agent = await deps.agents.get(req.params.id!);
    if (!agent) throw new TesseraError('not_found', `no User with id ${req.params.id}`);
    res.setHeader('ETag', `W/"${agent.version}"`);
    send(res, 200, agentToScim(agent, locationOf(agent.id)));
  });

  router.patch('/Users/:id', async (req, res) => {
    requireScimJson(req);
    const active = activeFromPatch(req.body);
    const result = await deps.agents.setActive(req.params.id!, active, deps.clock.now());
    if (!result) throw new TesseraError('not_found', `no User with id ${req.params.id}`);
    await deps.audit.record({
      event: active ? 'agent.changed' : 'agent.deactivated',
      actor: actorOf(res),
      agent: auditedAgent(result.agent),
      details: { active, revokedSessions: result.revokedSessions.map((s) => s.id), cancelledTasks: result.cancelledTaskIds },
    });
    if (!active) deps.onAgentEnded?.(result, 'deactivated');
    res.setHeader('ETag', `W/"${result.agent.version}"`);
    send(res, 200, agentToScim(result.agent, locationOf(result.agent.id)));
  });

  router.delete('/Users/:id', async (req, res) => {
    const result = await deps.agents.delete(req.params.id!, deps.clock.now());
    if (!result) throw new TesseraError('not_found', `no User with id ${req.params.id}`);
    await deps.audit.record({
      event: 'agent.deleted',
      actor: actorOf(res),
      agent: auditedAgent(result.agent),
      details: { revokedSessions: result.revokedSessions.map((s) => s.id), cancelledTasks: result.cancelledTaskIds },
    });
    deps.onAgentEnded?.(result, 'deleted');
    res.status(204).end();
  });

  router.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new TesseraError('not_found', 'no such SCIM endpoint'));
  });
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const tesseraError = asTesseraError(error);
    if (tesseraError.code === 'internal') deps.logger.error('scim.internal_error', { detail: tesseraError.internalDetail });
    sendScimError(res, tesseraError);
  });
  return router;
}

function actorOf(res: Response): string {
  const orchestrator: unknown = res.locals.orchestrator;
  const name = typeof orchestrator === 'object' && orchestrator !== null && 'name' in orchestrator ? String(orchestrator.name) : 'unknown';
  return `orchestrator:${name}`;
}

function requireScimJson(req: Request): void {
  if (!req.is([SCIM_CONTENT_TYPE, 'application/json'])) {
    throw new TesseraError('unsupported_media_type', `send the body as ${SCIM_CONTENT_TYPE}`);
  }
}
