import type { SqliteDatabase } from './database.js';
import { DirectoryCache } from './directory-cache.js';
import { unionOfScopes, type Agent, type AgentCertificate, type AgentGroup, type AgentProfile, type AgentWrite, type NewAgent } from '../agents/agent.js';
import type { AgentChangeResult, AgentEndResult, AgentRepository, AuditedWithin } from '../agents/agent-repository.js';
import { entryFromEvent } from '../audit/audit-entry.js';
import type { AuditEvent } from '../audit/audit-log.js';
import { SqliteAuditStore } from './sqlite-audit.js';
import type { Session } from '../sessions/session.js';
import { TesseraError } from '../common/errors.js';
import { fromMillis, optionalFromMillis, parseJson, toMillis } from './rows.js';
import { endLiveSessions } from './sqlite-logout-outbox.js';

interface AgentRow {
  id: string;
  user_name: string;
  active: number;
  external_id: string | null;
  profile: string;
  extra_attributes: string;
  version: number;
  created_at: number;
  updated_at: number;
}

interface CertificateRow {
  thumbprint: string;
  agent_id: string;
  pem: string;
  registered_at: number;
  retired_at: number | null;
}

interface GroupGrantRow {
  id: string;
  display_name: string;
  scopes: string;
}

function certificateFromRow(row: CertificateRow): AgentCertificate {
  return {
    thumbprint: row.thumbprint,
    pem: row.pem,
    registeredAt: fromMillis(row.registered_at),
    retiredAt: optionalFromMillis(row.retired_at),
  };
}

/** userName is unique case-insensitively (RFC 7643 §4.1.1 caseExact=false). */
export const userNameKey = (userName: string): string => userName.normalize('NFC').toLowerCase();

function uniqueness(message: string): TesseraError {
  return new TesseraError('conflict', message, { fields: { scimType: 'uniqueness' } });
}

/** The agents row's writable columns, as insertAgent and updateAgent bind them. */
function agentColumns(id: string, agent: AgentWrite, userNameKey: string, at: Date) {
  return {
    id,
    userName: agent.userName,
    userNameKey,
    active: agent.active ? 1 : 0,
    externalId: agent.externalId ?? null,
    profile: JSON.stringify(agent.profile),
    extraAttributes: JSON.stringify(agent.extraAttributes),
    at: toMillis(at),
  };
}

function agentFromRows(row: AgentRow, certificates: readonly CertificateRow[], grants: readonly GroupGrantRow[]): Agent {
  const profile = parseJson<AgentProfile>(row.profile);
  const groups: AgentGroup[] = grants.map((g) => ({ id: g.id, displayName: g.display_name }));
  return {
    id: row.id,
    userName: row.user_name,
    active: row.active === 1,
    externalId: row.external_id ?? undefined,
    profile,
    certificates: certificates.map(certificateFromRow),
    extraAttributes: parseJson<Record<string, unknown>>(row.extra_attributes),
    groups,
    grantedScopes: unionOfScopes(profile.scopes, grants.map((g) => parseJson<string[]>(g.scopes))),
    version: row.version,
    createdAt: fromMillis(row.created_at),
    updatedAt: fromMillis(row.updated_at),
  };
}

/** Rows by key, each group in the order the rows came. */
function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const list = groups.get(key(row));
    if (list) list.push(row);
    else groups.set(key(row), [row]);
  }
  return groups;
}

export class SqliteAgentRepository implements AgentRepository {
  private readonly insertAgent;
  private readonly insertCertificate;
  private readonly byId;
  private readonly byUserName;
  private readonly total;
  private readonly byExternalId;
  private readonly pageOf;
  private readonly firstBatch;
  private readonly batchAfterCursor;
  private readonly certificateByThumbprint;
  private readonly anyCertificateByThumbprint;
  private readonly certificatesOfMany;
  private readonly groupsOfMany;
  private readonly updateAgent;
  private readonly retireCertificate;
  private readonly deleteAgent;
  private readonly cancelOpenTasks;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly directory: DirectoryCache = new DirectoryCache(db),
    /** The audit trail on the same connection: a change and its record share one transaction. */
    private readonly audit: SqliteAuditStore = new SqliteAuditStore(db),
  ) {
    this.insertAgent = db.prepare(
      `INSERT INTO agents (id, user_name, user_name_key, active, external_id, profile, extra_attributes, version, created_at, updated_at)
       VALUES (@id, @userName, @userNameKey, @active, @externalId, @profile, @extraAttributes, 1, @at, @at)`,
    );
    this.insertCertificate = db.prepare(
      'INSERT INTO agent_certificates (thumbprint, agent_id, pem, registered_at, retired_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.byId = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE id = ?');
    this.byUserName = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE user_name_key = ?');
    this.total = db.prepare<[], number>('SELECT count(*) FROM agents').pluck();
    this.byExternalId = db.prepare<[string], AgentRow>(
      'SELECT * FROM agents INDEXED BY agents_by_external_id WHERE external_id = ? AND external_id IS NOT NULL ORDER BY created_at, id',
    );
    this.pageOf = db.prepare<[number, number], AgentRow>('SELECT * FROM agents ORDER BY created_at, id LIMIT ? OFFSET ?');
    this.firstBatch = db.prepare<[number], AgentRow>('SELECT * FROM agents ORDER BY created_at, id LIMIT ?');
    this.batchAfterCursor = db.prepare<[number, string, number], AgentRow>(
      'SELECT * FROM agents WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?',
    );
    this.certificateByThumbprint = db.prepare<[string], CertificateRow>(
      'SELECT * FROM agent_certificates WHERE thumbprint = ? AND retired_at IS NULL',
    );
    this.anyCertificateByThumbprint = db.prepare<[string], { agent_id: string; retired_at: number | null }>(
      'SELECT agent_id, retired_at FROM agent_certificates WHERE thumbprint = ?',
    );
    this.certificatesOfMany = db.prepare<[string], CertificateRow>(
      'SELECT * FROM agent_certificates WHERE agent_id IN (SELECT value FROM json_each(?)) ORDER BY registered_at, thumbprint',
    );
    this.groupsOfMany = db.prepare<[string], GroupGrantRow & { agent_id: string }>(
      `SELECT m.agent_id, g.id, g.display_name, g.scopes FROM group_members m JOIN groups g ON g.id = m.group_id
        WHERE m.agent_id IN (SELECT value FROM json_each(?)) ORDER BY g.display_name, g.id`,
    );
    this.updateAgent = db.prepare<Record<string, string | number | null>, AgentRow>(
      `UPDATE agents SET user_name = @userName, user_name_key = @userNameKey, active = @active, external_id = @externalId,
              profile = @profile, extra_attributes = @extraAttributes, version = version + 1, updated_at = @at
        WHERE id = @id RETURNING *`,
    );
    this.retireCertificate = db.prepare<[number, string, string]>(
      'UPDATE agent_certificates SET retired_at = ? WHERE agent_id = ? AND thumbprint = ? AND retired_at IS NULL',
    );
    this.deleteAgent = db.prepare<[string]>('DELETE FROM agents WHERE id = ?');
    this.cancelOpenTasks = db.prepare<[number, string], { id: string }>(
      `UPDATE tasks SET status = 'CANCELLED', ended_at = ? WHERE agent_id = ? AND status = 'OPEN' RETURNING id`,
    );
  }

  private hydrate(row: AgentRow): Agent {
    return this.hydrateAll([row])[0]!;
  }

  /** Agents with their certificates and roles: two queries for all the rows, not two per agent (pages and scans of the directory). */
  private hydrateAll(rows: readonly AgentRow[]): Agent[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((row) => row.id));
    const certificates = groupBy(this.certificatesOfMany.all(ids), (c) => c.agent_id);
    const grants = groupBy(this.groupsOfMany.all(ids), (g) => g.agent_id);
    return rows.map((row) => agentFromRows(row, certificates.get(row.id) ?? [], grants.get(row.id) ?? []));
  }

  async create(agent: NewAgent, at: Date): Promise<Agent> {
    const key = userNameKey(agent.userName);
    this.db.transaction(() => {
      if (this.byUserName.get(key)) throw uniqueness(`userName "${agent.userName}" is already in use`);
      this.insertAgent.run(agentColumns(agent.id, agent, key, at));
      for (const certificate of agent.certificates) this.addCertificate(agent.id, certificate);
    }).immediate();
    return this.hydrate(this.byId.get(agent.id)!);
  }

  /**
   * A thumbprint is pinned to one agent for good, and a retired certificate stays
   * retired: re-sending it must not undo a credential rotation (the cleanup policy's
   * rotateCredentials, or an orchestrator's own replacement). A new one is needed.
   */
  private addCertificate(agentId: string, certificate: AgentCertificate): void {
    const holder = this.anyCertificateByThumbprint.get(certificate.thumbprint);
    if (holder && holder.agent_id !== agentId) throw uniqueness('an x509Certificates value is already registered to another agent');
    if (holder && holder.retired_at !== null) {
      throw new TesseraError('invalid_value', 'an x509Certificates value was retired and cannot be registered again: issue a new certificate', {
        fields: { scimType: 'invalidValue' },
      });
    }
    if (holder) return;
    this.insertCertificate.run(
      certificate.thumbprint,
      agentId,
      certificate.pem,
      toMillis(certificate.registeredAt),
      certificate.retiredAt ? toMillis(certificate.retiredAt) : null,
    );
  }

  async get(id: string): Promise<Agent | undefined> {
    const row = this.byId.get(id);
    return row ? this.hydrate(row) : undefined;
  }

  /** The sign-on lookup (JWT agents): kept in memory while the directory is unchanged. */
  async getByUserName(userName: string): Promise<Agent | undefined> {
    const key = userNameKey(userName);
    return this.directory.lookup('agent-by-user-name', key, () => {
      const row = this.byUserName.get(key);
      return row ? this.hydrate(row) : undefined;
    });
  }

  async page(offset: number, limit: number): Promise<{ readonly total: number; readonly agents: Agent[] }> {
    // One read transaction: the count and the page see the same directory.
    return this.db.transaction(() => ({ total: this.total.get() ?? 0, agents: this.hydrateAll(this.pageOf.all(limit, offset)) }))();
  }

  async findByExternalId(externalId: string): Promise<Agent[]> {
    return this.db.transaction(() => this.hydrateAll(this.byExternalId.all(externalId)))();
  }

  async batchAfter(cursor: Agent | undefined, limit: number): Promise<Agent[]> {
    return this.db.transaction(() =>
      this.hydrateAll(cursor === undefined ? this.firstBatch.all(limit) : this.batchAfterCursor.all(toMillis(cursor.createdAt), cursor.id, limit)),
    )();
  }

  /** The sign-on lookup (mTLS agents): kept in memory while the directory is unchanged. */
  async findByCertificate(thumbprint: string): Promise<{ agent: Agent; certificate: AgentCertificate } | undefined> {
    return this.directory.lookup('agent-by-certificate', thumbprint, () => {
      const certificateRow = this.certificateByThumbprint.get(thumbprint);
      if (!certificateRow) return undefined;
      const agentRow = this.byId.get(certificateRow.agent_id);
      if (!agentRow) return undefined;
      return { agent: this.hydrate(agentRow), certificate: certificateFromRow(certificateRow) };
    });
  }

  async replace(
    id: string,
    agent: AgentWrite,
    at: Date,
    expectedVersion: number | undefined,
    auditOf: (result: AgentChangeResult) => AuditEvent,
  ): Promise<(AgentChangeResult & { readonly audited: AuditedWithin }) | undefined> {
    return this.withAuditRecord(() => this.replaceWithin(id, agent, at, expectedVersion), auditOf, at);
  }

  /** One transaction: the work, then (if it found the agent) the audit record of its result. */
  private withAuditRecord<R extends AgentEndResult>(
    work: () => R | undefined,
    auditOf: (result: R) => AuditEvent,
    at: Date,
  ): (R & { readonly audited: AuditedWithin }) | undefined {
    return this.db
      .transaction(() => {
        const result = work();
        if (!result) return undefined;
        const event = auditOf(result);
        return { ...result, audited: { event, entry: this.audit.appendWithin(entryFromEvent(event, at)) } };
      })
      .immediate();
  }

  /** The agent's row, if it exists; throws when it is not at `expectedVersion` (when given). */
  private rowAtVersion(id: string, expectedVersion: number | undefined): AgentRow | undefined {
    const row = this.byId.get(id);
    if (row && expectedVersion !== undefined && row.version !== expectedVersion) {
      throw new TesseraError('precondition_failed', `the User is at version W/"${row.version}", not W/"${expectedVersion}"`);
    }
    return row;
  }

  /** replace's work, inside the caller's transaction. */
  private replaceWithin(id: string, agent: AgentWrite, at: Date, expectedVersion: number | undefined): AgentChangeResult | undefined {
    const row = this.rowAtVersion(id, expectedVersion);
    if (!row) return undefined;
    const previous = this.hydrate(row);
    const key = userNameKey(agent.userName);
    const holder = this.byUserName.get(key);
    if (holder && holder.id !== id) throw uniqueness(`userName "${agent.userName}" is already in use`);
    const updated = this.updateAgent.get(agentColumns(id, agent, key, at))!;
    const wanted = new Set(agent.certificates.map((c) => c.thumbprint));
    for (const current of previous.certificates) {
      if (current.retiredAt === undefined && !wanted.has(current.thumbprint)) this.retireCertificate.run(toMillis(at), id, current.thumbprint);
    }
    for (const certificate of agent.certificates) this.addCertificate(id, certificate);
    const ended = previous.active && !agent.active ? this.endEverything(id, at, 'agent_deactivated') : { revokedSessions: [], cancelledTaskIds: [] };
    return { agent: this.hydrate(updated), previous, ...ended };
  }

  async delete(
    id: string,
    at: Date,
    expectedVersion: number | undefined,
    auditOf: (result: AgentEndResult) => AuditEvent,
  ): Promise<(AgentEndResult & { readonly audited: AuditedWithin }) | undefined> {
    return this.withAuditRecord(() => this.deleteWithin(id, at, expectedVersion), auditOf, at);
  }

  /** delete's work, inside the caller's transaction. */
  private deleteWithin(id: string, at: Date, expectedVersion: number | undefined): AgentEndResult | undefined {
    const row = this.rowAtVersion(id, expectedVersion);
    if (!row) return undefined;
    const agent = this.hydrate(row);
    const ended = this.endEverything(id, at, 'agent_deleted');
    this.deleteAgent.run(id);
    return { agent, ...ended };
  }

  /**
   * Queues the back-channel logouts, revokes and cancels: all inside the caller's transaction,
   * set-based (each statement selects through a partial index over what is live or open).
   */
  private endEverything(agentId: string, at: Date, reason: string): { revokedSessions: Session[]; cancelledTaskIds: string[] } {
    const revokedSessions = endLiveSessions(this.db, 'agent_id', agentId, at, reason);
    const cancelledTaskIds = this.cancelOpenTasks.all(toMillis(at), agentId).map((r) => r.id);
    return { revokedSessions, cancelledTaskIds };
  }
}
