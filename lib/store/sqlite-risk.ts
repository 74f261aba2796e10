import type { SqliteDatabase } from './database.js';
import type { Session } from '../sessions/session.js';
import { emptyBaseline, observe, type AgentBaseline, type RiskEvent } from '../risk/baseline.js';
import type { RiskLearning, RiskRepository, RiskSnapshot } from '../risk/risk-repository.js';
import { optionalFromMillis, toMillis } from './rows.js';
import { revokeLiveSessions } from './sqlite-sessions.js';
import { queueLogouts } from './sqlite-logout-outbox.js';

interface SnapshotRow {
  state: string | null;
  held_since: number | null;
  role_sp: number;
}

export class SqliteRiskRepository implements RiskRepository {
  private readonly snapshot;
  private readonly upsert;
  private readonly roleSp;
  private readonly hold;
  private readonly storedState;
  private readonly learnTx;

  constructor(private readonly db: SqliteDatabase) {
    // One statement: the baseline row by primary key and the role lookup by (sp, group) key.
    this.snapshot = db.prepare<{ agentId: string; groups: string; sp: string }, SnapshotRow>(
      `SELECT b.state AS state, b.held_since AS held_since,
              EXISTS (SELECT 1 FROM role_sps r WHERE r.sp_entity_id = @sp AND r.group_id IN (SELECT value FROM json_each(@groups))) AS role_sp
         FROM (SELECT 1) LEFT JOIN agent_baselines b ON b.agent_id = @agentId`,
    );
    this.upsert = db.prepare<[string, string, number]>(
      `INSERT INTO agent_baselines (agent_id, state, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.roleSp = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO role_sps (group_id, sp_entity_id, first_seen_at) VALUES (?, ?, ?)');
    this.storedState = db.prepare<[string], string | null>('SELECT state FROM agent_baselines WHERE agent_id = ?').pluck();
    // Read, learn and write in one transaction (a savepoint inside the sign-on batch, which holds
    // the write lock): two sign-ons of one agent that loaded the same snapshot both count.
    this.learnTx = db.transaction((agentId: string, event: RiskEvent, rolesToTell: readonly string[], spEntityId: string) => {
      const stored = this.storedState.get(agentId);
      const baseline = stored ? (JSON.parse(stored) as AgentBaseline) : emptyBaseline();
      observe(baseline, event);
      const at = toMillis(event.at);
      this.upsert.run(agentId, JSON.stringify(baseline), at);
      for (const group of rolesToTell) this.roleSp.run(group, spEntityId, at);
    });
    this.hold = db.prepare<[string, string, number, number]>(
      `INSERT INTO agent_baselines (agent_id, state, held_since, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET held_since = excluded.held_since`,
    );
  }

  async load(agentId: string, groupIds: readonly string[], spEntityId: string): Promise<RiskSnapshot> {
    const row = this.snapshot.get({ agentId, groups: JSON.stringify(groupIds), sp: spEntityId })!;
    return {
      baseline: row.state === null ? emptyBaseline() : (JSON.parse(row.state) as AgentBaseline),
      heldSince: optionalFromMillis(row.held_since),
      spUsedByRoles: row.role_sp === 1,
    };
  }

  async learn(agentId: string, event: RiskEvent, rolesToTell: readonly string[], spEntityId: string): Promise<void> {
    this.learnWithin({ agentId, event, rolesToTell, spEntityId });
  }

  /** learn(), inside the caller's transaction on this connection (as a savepoint). */
  learnWithin(learning: RiskLearning): void {
    this.learnTx.immediate(learning.agentId, learning.event, learning.rolesToTell, learning.spEntityId);
  }

  async storeBaseline(agentId: string, baseline: AgentBaseline, at: Date): Promise<void> {
    this.upsert.run(agentId, JSON.stringify(baseline), toMillis(at));
  }

  async revokeAgent(agentId: string, at: Date, reason: string): Promise<Session[]> {
    return this.db
      .transaction(() => {
        const sessions = revokeLiveSessions(this.db, 'agent_id', agentId, at, reason);
        queueLogouts(this.db, sessions, reason, at);
        this.hold.run(agentId, JSON.stringify(emptyBaseline()), toMillis(at), toMillis(at));
        return sessions;
      })
      .immediate();
  }
}
