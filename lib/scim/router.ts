import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Agent } from '../agents/agent.js';
import type { AgentChangeResult, AgentEndResult, AgentRepository } from '../agents/agent-repository.js';
import { auditedAgent, type AuditEvent, type AuditLog } from '../audit/index.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { TesseraError } from '../common/errors.js';
import { asTesseraError } from '../http/error-mapping.js';
import { sendScimError } from '../http/responses.js';
import type { Group } from '../roles/group.js';
import type { GroupRepository } from '../roles/group-repository.js';
import type { Session } from '../sessions/session.js';
import { own, type JsonObject } from './attribute-path.js';
import { findResourceType, findSchema, listOf, resourceTypeDocument, schemaDocument, serviceProviderConfig } from './discovery.js';
import { groupToDocument, groupWriteFromDocument } from './group-resource.js';
import { collectListQuery, listPage, parseListQuery, type ListQuery } from './list-query.js';
import { applyPatch } from './patch.js';
import { parseProjection, project } from './projection.js';
import { readResourceDocument } from './resource-document.js';
import { ALL_SCHEMAS, GROUP_RESOURCE, RESOURCE_TYPES, USER_RESOURCE, type ResourceTypeDefinition } from './schema-definitions.js';
import { SCIM_CONTENT_TYPE, SCIM_SCHEMAS } from './schemas.js';
import { agentToDocument, agentWriteFromDocument } from './user-resource.js';

export interface ScimRouterDeps {
  readonly agents: AgentRepository;
  readonly groups: GroupRepository;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
  /** The absolute URL the router is mounted at, for meta.location. */
  readonly baseUrl: string;
  readonly maxJsonBytes: number;
  readonly authenticate: (req: Request, res: Response, next: NextFunction) => void;
  /** Called after an agent lost its sessions (deactivated or deleted): their logouts are queued; this wakes the sender. */
  readonly onAgentEnded?: (result: AgentEndResult, reason: 'deactivated' | 'deleted') => void;
}

/** How the generic endpoints reach one resource type. */
interface ResourceAdapter<R> {
  readonly type: ResourceTypeDefinition;
  get(id: string): Promise<R | undefined>;
  /**
   * The candidates for a filtered or sorted list, in bounded batches: every
   * resource, or fewer when an index answers the filter.
   */
  scan(query: ListQuery): AsyncIterable<readonly R[]>;
  /** One page of every resource, in list order, when the store can cut it (no filter, no sortBy). */
  page?(offset: number, limit: number): Promise<{ readonly total: number; readonly resources: readonly R[] }>;
  document(resource: R): JsonObject;
  version(resource: R): number;
  create(document: JsonObject, actor: string): Promise<R>;
  /** @param current the resource the document was computed from; the write happens only at its version */
  replace(current: R, document: JsonObject, actor: string, patch: boolean): Promise<R>;
  remove(id: string, expectedVersion: number | undefined, actor: string): Promise<boolean>;
}

/** Agents per step of a scan: a filter over a directory of 100,000 agents reads it 500 at a time. */
const SCAN_BATCH = 500;

async function* documentBatches<R>(adapter: ResourceAdapter<R>, query: ListQuery): AsyncIterable<JsonObject[]> {
  for await (const batch of adapter.scan(query)) yield batch.map((resource) => adapter.document(resource));
}

/** Attempts at a read-modify-write before giving up to a concurrent writer. */
const MAX_WRITE_ATTEMPTS = 3;

/** SCIM 2.0 (RFC 7643/7644): Users are agents, Groups are roles; mounted at /scim/v2. */
export function scimRouter(deps: ScimRouterDeps): Router {
  const router = express.Router();
  router.use(deps.authenticate);
  router.use(express.json({ limit: deps.maxJsonBytes, type: [SCIM_CONTENT_TYPE, 'application/json'], strict: true }));
  const userLocation = (id: string) => `${deps.baseUrl}/Users/${encodeURIComponent(id)}`;
  const groupLocation = (id: string) => `${deps.baseUrl}/Groups/${encodeURIComponent(id)}`;

  const users: ResourceAdapter<Agent> = {
    type: USER_RESOURCE,
    get: (id) => deps.agents.get(id),
    scan: async function* (query) {
      // An index narrows the candidates; the filter itself still decides (list-query.ts).
      const userName = equalityOn(query, 'userName');
      if (userName !== undefined) {
        const agent = await deps.agents.getByUserName(userName);
        if (agent) yield [agent];
        return;
      }
      const externalId = equalityOn(query, 'externalId');
      if (externalId !== undefined) {
        yield await deps.agents.findByExternalId(externalId);
        return;
      }
      for (let batch = await deps.agents.batchAfter(undefined, SCAN_BATCH); batch.length > 0; batch = await deps.agents.batchAfter(batch.at(-1), SCAN_BATCH)) {
        yield batch;
      }
    },
    page: async (offset, limit) => {
      const { total, agents } = await deps.agents.page(offset, limit);
      return { total, resources: agents };
    },
    document: (agent) => agentToDocument(agent, userLocation(agent.id), groupLocation),
    version: (agent) => agent.version,
    create: async (document, actor) => {
      const now = deps.clock.now();
      const agent = await deps.agents.create({ id: randomUUID(), ...agentWriteFromDocument(document, now, undefined) }, now);
      await deps.audit.record({
        event: 'agent.provisioned',
        actor,
        agent: auditedAgent(agent),
        details: { active: agent.active, certificates: agent.certificates.map((c) => c.thumbprint), profile: agent.profile },
      });
      return agent;
    },
    replace: async (current, document, actor, patch) => {
      if (patch && own(document, 'active') === undefined) throw new TesseraError('invalid_value', 'active cannot be removed: replace it with false');
      const now = deps.clock.now();
      // The record commits with the change: a deactivation's revocations are never left unaudited.
      const result = await deps.agents.replace(current.id, agentWriteFromDocument(document, now, current), now, current.version, (r) =>
        agentChangeEvent(actor, r),
      );
      if (!result) throw new TesseraError('not_found', `no User with id ${current.id}`);
      deps.audit.recorded(result.audited.event, result.audited.entry);
      if (result.previous.active && !result.agent.active) deps.onAgentEnded?.(result, 'deactivated');
      return result.agent;
    },
    remove: async (id, expectedVersion, actor) => {
      const result = await deps.agents.delete(id, deps.clock.now(), expectedVersion, (r) => ({
        event: 'agent.deleted',
        actor,
        agent: auditedAgent(r.agent),
        details: {
          revokedSessions: r.revokedSessions.map((s) => s.id),
          revokedSessionsBySp: sessionsBySp(r.revokedSessions),
          cancelledTasks: r.cancelledTaskIds,
        },
      }));
      if (!result) return false;
      deps.audit.recorded(result.audited.event, result.audited.entry);
      deps.onAgentEnded?.(result, 'deleted');
      return true;
    },
  };

  const groups: ResourceAdapter<Group> = {
    type: GROUP_RESOURCE,
    get: (id) => deps.groups.get(id),
    // Roles are few (one per grant of scopes), unlike agents: one batch.
    scan: async function* () {
      yield await deps.groups.list();
    },
    document: (group) => groupToDocument(group, groupLocation(group.id), userLocation),
    version: (group) => group.version,
    create: async (document, actor) => {
      const group = await deps.groups.create(randomUUID(), groupWriteFromDocument(document), deps.clock.now());
      await deps.audit.record({
        event: 'group.created',
        actor,
        details: { groupId: group.id, displayName: group.displayName, scopes: group.scopes, members: group.members.map((m) => m.agentId) },
      });
      return group;
    },
    replace: async (current, document, actor) => {
      const change = await deps.groups.replace(current.id, groupWriteFromDocument(document), deps.clock.now(), current.version);
      if (!change) throw new TesseraError('not_found', `no Group with id ${current.id}`);
      const before = new Set(change.previous.members.map((m) => m.agentId));
      const after = new Set(change.group.members.map((m) => m.agentId));
      await deps.audit.record({
        event: 'group.changed',
        actor,
        details: {
          groupId: change.group.id,
          displayName: change.group.displayName,
          scopesBefore: change.previous.scopes,
          scopes: change.group.scopes,
          membersAdded: [...after].filter((id) => !before.has(id)),
          membersRemoved: [...before].filter((id) => !after.has(id)),
        },
      });
      return change.group;
    },
    remove: async (id, expectedVersion, actor) => {
      const group = await deps.groups.delete(id, expectedVersion);
      if (!group) return false;
      await deps.audit.record({
        event: 'group.deleted',
        actor,
        details: { groupId: group.id, displayName: group.displayName, scopes: group.scopes, members: group.members.map((m) => m.agentId) },
      });
      return true;
    },
  };

  mountResource(router, users);
  mountResource(router, groups);

  router.get('/ServiceProviderConfig', (_req, res) => send(res, 200, serviceProviderConfig(deps.baseUrl, deps.maxJsonBytes)));
  router.get('/ResourceTypes', (_req, res) => send(res, 200, listOf(RESOURCE_TYPES.map((t) => resourceTypeDocument(t, deps.baseUrl)))));
  router.get('/ResourceTypes/:id', (req, res) => {
    const resourceType = findResourceType(idOf(req));
    if (!resourceType) throw new TesseraError('not_found', `no ResourceType ${req.params.id}`);
    send(res, 200, resourceTypeDocument(resourceType, deps.baseUrl));
  });
  router.get('/Schemas', (_req, res) => send(res, 200, listOf(ALL_SCHEMAS.map((s) => schemaDocument(s, deps.baseUrl)))));
  router.get('/Schemas/:id', (req, res) => {
    const schema = findSchema(idOf(req));
    if (!schema) throw new TesseraError('not_found', `no Schema ${req.params.id}`);
    send(res, 200, schemaDocument(schema, deps.baseUrl));
  });

  router.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new TesseraError('not_found', 'no such SCIM endpoint'));
  });
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const refusal = asTesseraError(error);
    if (refusal.code === 'internal') deps.logger.error('scim.internal_error', { detail: refusal.internalDetail });
    void deps.audit
      .record({
        event: 'scim.denied',
        actor: actorOf(res),
        reason: refusal.code,
        details: { method: req.method, path: req.path, message: refusal.code === 'internal' ? 'internal error' : refusal.message },
      })
      .catch((auditError: unknown) => deps.logger.error('scim.audit_failed', { error: String(auditError) }))
      .finally(() => sendScimError(res, refusal));
  });
  return router;
}

function mountResource<R>(router: Router, adapter: ResourceAdapter<R>): void {
  const endpoint = adapter.type.endpoint;
  const noun = adapter.type.name;
  const notFound = (id: string) => new TesseraError('not_found', `no ${noun} with id ${id}`);

  const list = async (res: Response, query: ListQuery) => {
    if (adapter.page && query.filter === undefined && query.sortBy === undefined) {
      const { total, resources } = await adapter.page(query.startIndex - 1, query.count);
      send(res, 200, listPage(total, query, resources.map((resource) => adapter.document(resource))));
      return;
    }
    send(res, 200, await collectListQuery(documentBatches(adapter, query), query));
  };

  router.get(endpoint, async (req, res) => list(res, parseListQuery(req.query as Record<string, unknown>, adapter.type)));

  router.post(`${endpoint}/.search`, async (req, res) => {
    requireScimJson(req);
    const body: unknown = req.body;
    const request = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const schemas = request?.schemas;
    if (!request || !Array.isArray(schemas) || !schemas.includes(SCIM_SCHEMAS.searchRequest)) {
      throw new TesseraError('invalid_syntax', `the body must be a SearchRequest (${SCIM_SCHEMAS.searchRequest})`);
    }
    const { schemas: _schemas, ...parameters } = request;
    await list(res, parseListQuery(parameters, adapter.type));
  });

  router.get(`${endpoint}/:id`, async (req, res) => {
    const resource = await adapter.get(idOf(req));
    if (!resource) throw notFound(idOf(req));
    const etag = etagOf(adapter.version(resource));
    res.setHeader('ETag', etag);
    if (ifNoneMatchHits(req.get('If-None-Match'), adapter.version(resource))) {
      res.status(304).end();
      return;
    }
    const projection = parseProjection(queryText(req, 'attributes'), queryText(req, 'excludedAttributes'), adapter.type);
    send(res, 200, project(adapter.document(resource), projection));
  });

  router.post(endpoint, async (req, res) => {
    requireScimJson(req);
    const resource = await adapter.create(readResourceDocument(req.body, adapter.type), actorOf(res));
    const document = adapter.document(resource);
    res.location(String((document.meta as JsonObject).location));
    res.setHeader('ETag', etagOf(adapter.version(resource)));
    send(res, 201, document);
  });

  /** Read, compute, write at the version read; retried when another writer got in between, unless the client pinned a version. */
  const readModifyWrite = async (req: Request, res: Response, compute: (current: R) => JsonObject, patch: boolean): Promise<R> => {
    const id = idOf(req);
    const expected = ifMatchVersion(req.get('If-Match'));
    for (let attempt = 1; ; attempt += 1) {
      const current = await adapter.get(id);
      if (!current) throw notFound(id);
      if (expected !== undefined && expected !== '*' && expected !== adapter.version(current)) {
        throw new TesseraError('precondition_failed', `If-Match does not match the current version ${etagOf(adapter.version(current))}`);
      }
      try {
        return await adapter.replace(current, compute(current), actorOf(res), patch);
      } catch (error) {
        const raced = error instanceof TesseraError && error.code === 'precondition_failed';
        if (!raced || expected !== undefined || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  };

  router.put(`${endpoint}/:id`, async (req, res) => {
    requireScimJson(req);
    const document = readResourceDocument(req.body, adapter.type);
    const updated = await readModifyWrite(req, res, () => document, false);
    res.setHeader('ETag', etagOf(adapter.version(updated)));
    const projection = parseProjection(queryText(req, 'attributes'), queryText(req, 'excludedAttributes'), adapter.type);
    send(res, 200, project(adapter.document(updated), projection));
  });

  router.patch(`${endpoint}/:id`, async (req, res) => {
    requireScimJson(req);
    const updated = await readModifyWrite(
      req,
      res,
      (current) => readResourceDocument(applyPatch(adapter.document(current), req.body, adapter.type, idOf(req)), adapter.type),
      true,
    );
    res.setHeader('ETag', etagOf(adapter.version(updated)));
    // RFC 7644 §3.5.2 allows 200 with the resource or 204: the resource only when the client asks for it.
    const attributes = queryText(req, 'attributes');
    const excluded = queryText(req, 'excludedAttributes');
    if (attributes === undefined && excluded === undefined && !/return=representation/i.test(req.get('Prefer') ?? '')) {
      res.status(204).end();
      return;
    }
    send(res, 200, project(adapter.document(updated), parseProjection(attributes, excluded, adapter.type)));
  });

  router.delete(`${endpoint}/:id`, async (req, res) => {
    const expected = ifMatchVersion(req.get('If-Match'));
    const id = idOf(req);
    if (expected !== undefined && expected !== '*') {
      const current = await adapter.get(id);
      if (!current) throw notFound(id);
    }
    const removed = await adapter.remove(id, expected === '*' ? undefined : expected, actorOf(res));
    if (!removed) throw notFound(id);
    res.status(204).end();
  });
}

function agentChangeEvent(actor: string, result: AgentChangeResult): AuditEvent {
  const { previous, agent } = result;
  const changed: string[] = (['userName', 'active', 'externalId'] as const).filter((key) => previous[key] !== agent[key]);
  if (JSON.stringify(previous.profile) !== JSON.stringify(agent.profile)) changed.push('profile');
  if (JSON.stringify(previous.extraAttributes) !== JSON.stringify(agent.extraAttributes)) changed.push('attributes');
  const before = previous.certificates.filter((c) => c.retiredAt === undefined).map((c) => c.thumbprint);
  const after = agent.certificates.filter((c) => c.retiredAt === undefined).map((c) => c.thumbprint);
  return {
    event: previous.active && !agent.active ? 'agent.deactivated' : 'agent.changed',
    actor,
    agent: auditedAgent(agent),
    details: {
      changed,
      active: agent.active,
      profile: agent.profile,
      certificatesAdded: after.filter((t) => !before.includes(t)),
      certificatesRetired: before.filter((t) => !after.includes(t)),
      revokedSessions: result.revokedSessions.map((s) => s.id),
      revokedSessionsBySp: sessionsBySp(result.revokedSessions),
      cancelledTasks: result.cancelledTaskIds,
    },
  };
}

/** Each revoked session under the SP that held it: the trail names every SP that was told (or skipped). */
function sessionsBySp(sessions: readonly Session[]): Record<string, string[]> {
  const bySp = new Map<string, string[]>();
  for (const session of sessions) {
    const ids = bySp.get(session.spEntityId);
    if (ids) ids.push(session.id);
    else bySp.set(session.spEntityId, [session.id]);
  }
  // fromEntries: an entityID such as "__proto__" stays a plain key.
  return Object.fromEntries(bySp);
}

/** The userName a filter of exactly `userName eq "…"` asks for (Okta's lookup), answered by the unique index. */
/** The value of a filter that is exactly `<attribute> eq "<string>"` on a core attribute, else undefined. */
function equalityOn(query: ListQuery, attribute: 'userName' | 'externalId'): string | undefined {
  const filter = query.filter;
  if (filter?.kind !== 'compare' || filter.op !== 'eq' || typeof filter.value !== 'string') return undefined;
  const { path } = filter;
  return path.extension === undefined && path.sub === undefined && path.attribute.name === attribute ? filter.value : undefined;
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(body));
}

const idOf = (req: Request): string => String(req.params.id);

const etagOf = (version: number): string => `W/"${version}"`;

/** The version an If-Match names: a number, '*', or NaN for a tag this server never issued (which matches nothing). */
function ifMatchVersion(header: string | undefined): number | '*' | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.trim() === '*') return '*';
  const tags = header.split(',').map((tag) => /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(tag)?.[1]);
  const versions = tags.filter((tag): tag is string => tag !== undefined).map(Number);
  return versions.length === 1 ? (versions[0] as number) : Number.NaN;
}

function ifNoneMatchHits(header: string | undefined, version: number): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => tag.trim() === '*' || /^\s*(?:W\/)?"(\d+)"\s*$/.exec(tag)?.[1] === String(version));
}

function queryText(req: Request, name: string): string | undefined {
  const lower = name.toLowerCase();
  const key = Object.keys(req.query).find((k) => k.toLowerCase() === lower);
  if (key === undefined) return undefined;
  const value = req.query[key];
  if (typeof value !== 'string') throw new TesseraError('invalid_value', `${name} must be given once`);
  return value;
}

function actorOf(res: Response): string {
  const orchestrator: unknown = res.locals.orchestrator;
  if (typeof orchestrator === 'object' && orchestrator !== null && 'name' in orchestrator) return `orchestrator:${String(orchestrator.name)}`;
  return 'anonymous';
}

function requireScimJson(req: Request): void {
  if (!req.is([SCIM_CONTENT_TYPE, 'application/json'])) {
    throw new TesseraError('unsupported_media_type', `send the body as ${SCIM_CONTENT_TYPE}`);
  }
}
