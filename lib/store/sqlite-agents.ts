import type { SqliteDatabase } from './database.js';
import type { Agent, AgentCertificate, AgentProfile, NewAgent } from '../agents/agent.js';
import type { AgentEndResult, AgentRepository } from '../agents/agent-repository.js';
import { TesseraError } from '../common/errors.js';
import { fromMillis, optionalFromMillis, parseJson, toMillis } from './rows.js';
import { revokeLiveSessions } from './sqlite-sessions.js';

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

export class SqliteAgentRepository implements AgentRepository {
  private readonly insertAgent;
  private readonly insertCertificate;
  private readonly byId;
  private readonly byUserName;
  private readonly certificatesOf;
  private readonly certificateByThumbprint;
  private readonly anyCertificateByThumbprint;
  private readonly updateActive;
  private readonly deleteAgent;
  private readonly cancelOpenTasks;

  constructor(private readonly db: SqliteDatabase) {
    this.insertAgent = db.prepare(
      `INSERT INTO agents (id, user_name, user_name_key, active, external_id, profile, extra_attributes, version, created_at, updated_at)
       VALUES (@id, @userName, @userNameKey, @active, @externalId, @profile, @extraAttributes, 1, @at, @at)`,
    );
    this.insertCertificate = db.prepare(
      'INSERT INTO agent_certificates (thumbprint, agent_id, pem, registered_at, retired_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.byId = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE id = ?');
    this.byUserName = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE user_name_key = ?');
    this.certificatesOf = db.prepare<[string], CertificateRow>(
      'SELECT * FROM agent_certificates WHERE agent_id = ? ORDER BY registered_at, thumbprint',
    );
    this.certificateByThumbprint = db.prepare<[string], CertificateRow>(
      'SELECT * FROM agent_certificates WHERE thumbprint = ? AND retired_at IS NULL',
    );
    this.anyCertificateByThumbprint = db.prepare<[string], { agent_id: string }>(
      'SELECT agent_id FROM agent_certificates WHERE thumbprint = ?',
    );
    this.updateActive = db.prepare<[number, number, string], AgentRow>(
      'UPDATE agents SET active = ?, version = version + 1, updated_at = ? WHERE id = ? RETURNING *',
    );
    this.deleteAgent = db.prepare<[string]>('DELETE FROM agents WHERE id = ?');
    this.cancelOpenTasks = db.prepare<[number, string], { id: string }>(
      `UPDATE tasks SET status = 'CANCELLED', ended_at = ? WHERE agent_id = ? AND status = 'OPEN' RETURNING id`,
    );
  }

  private hydrate(row: AgentRow): Agent {
    return {
      id: row.id,
      userName: row.user_name,
      active: row.active === 1,
      externalId: row.external_id ?? undefined,
      profile: parseJson<AgentProfile>(row.profile),
      certificates: this.certificatesOf.all(row.id).map(certificateFromRow),
      extraAttributes: parseJson<Record<string, unknown>>(row.extra_attributes),
      version: row.version,
      createdAt: fromMillis(row.created_at),
      updatedAt: fromMillis(row.updated_at),
    };
  }

  async create(agent: NewAgent, at: Date): Promise<Agent> {
    const key = userNameKey(agent.userName);
    this.db.transaction(() => {
      if (this.byUserName.get(key)) {
        throw new TesseraError('conflict', `userName "${agent.userName}" is already in use`, {
          fields: { scimType: 'uniqueness' },
        });
      }
      this.insertAgent.run({
        id: agent.id,
        userName: agent.userName,
        userNameKey: key,
        active: agent.active ? 1 : 0,
        externalId: agent.externalId ?? null,
        profile: JSON.stringify(agent.profile),
        extraAttributes: JSON.stringify(agent.extraAttributes),
        at: toMillis(at),
      });
      for (const certificate of agent.certificates) {
        if (this.anyCertificateByThumbprint.get(certificate.thumbprint)) {
          throw new TesseraError('conflict', 'an x509Certificates value is already registered to another agent', {
            fields: { scimType: 'uniqueness' },
          });
        }
        this.insertCertificate.run(
          certificate.thumbprint,
          agent.id,
          certificate.pem,
          toMillis(certificate.registeredAt),
          certificate.retiredAt ? toMillis(certificate.retiredAt) : null,
        );
      }
    }).immediate();
    return this.hydrate(this.byId.get(agent.id)!);
  }

  async get(id: string): Promise<Agent | undefined> {
    const row = this.byId.get(id);
    return row ? this.hydrate(row) : undefined;
  }

  async getByUserName(userName: string): Promise<Agent | undefined> {
    const row = this.byUserName.get(userNameKey(userName));
    return row ? this.hydrate(row) : undefined;
  }

  async findByCertificate(thumbprint: string): Promise<{ agent: Agent; certificate: AgentCertificate } | undefined> {
    const certificateRow = this.certificateByThumbprint.get(thumbprint);
    if (!certificateRow) return undefined;
    const agentRow = this.byId.get(certificateRow.agent_id);
    if (!agentRow) return undefined;
    return { agent: this.hydrate(agentRow), certificate: certificateFromRow(certificateRow) };
  }

  async setActive(id: string, active: boolean, at: Date): Promise<AgentEndResult | undefined> {
    return this.db.transaction((): AgentEndResult | undefined => {
      const row = this.updateActive.get(active ? 1 : 0, toMillis(at), id);
      if (!row) return undefined;
      const ended = active ? { revokedSessions: [], cancelledTaskIds: [] } : this.endEverything(id, at, 'agent_deactivated');
      return { agent: this.hydrate(row), ...ended };
    }).immediate();
  }

  async delete(id: string, at: Date): Promise<AgentEndResult | undefined> {
    return this.db.transaction((): AgentEndResult | undefined => {
      const row = this.byId.get(id);
      if (!row) return undefined;
      const agent = this.hydrate(row);
      const ended = this.endEverything(id, at, 'agent_deleted');
      this.deleteAgent.run(id);
      return { agent, ...ended };
    }).immediate();
  }

  private endEverything(agentId: string, at: Date, reason: string) {
    const revokedSessions = revokeLiveSessions(this.db, 'agent_id', agentId, at, reason);
    const cancelledTaskIds = this.cancelOpenTasks.all(toMillis(at), agentId).map((r) => r.id);
    return { revokedSessions, cancelledTaskIds };
  }
}
