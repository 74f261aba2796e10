import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { openDatabase, type SqliteDatabase } from '../../lib/store/database.js';
import { sqliteStore, type Store } from '../../lib/store/index.js';
import { userNameKey } from '../../lib/store/sqlite-agents.js';
import type { SessionRow as StoredSessionRow } from '../../lib/store/sqlite-sessions.js';
import { auditedAgent, entryFromEvent, GENESIS_HASH, type AuditEvent, type AuditedAgent } from '../../lib/audit/index.js';
import { chainEntry, storedColumns } from '../../lib/audit/audit-entry.js';
import type { SensitivityTier } from '../../lib/config/index.js';
import { DEFAULT_CLEANUP_POLICY } from '../../lib/config/cleanup-policy.js';
import { observe, sourceNetwork, type AgentBaseline } from '../../lib/risk/baseline.js';
import { agentWriteFromDocument } from '../../lib/scim/user-resource.js';
import { samlId, timeOrderedUuid } from '../../lib/common/time-ordered-ids.js';
import { NAMEID_FORMAT } from '../../lib/saml/namespaces.js';
import { SESSION_END_REASON } from '../../lib/sessions/session.js';
import { sessionEvent } from '../../lib/sessions/sweeper.js';
import type { TerminalTaskStatus } from '../../lib/tasks/task.js';
import { FleetCertificates } from './fleet-certificates.js';

/*
 * A data directory grown to what a long-running IdP for a large fleet holds.
 *
 * The history is a discrete-event simulation of the running IdP: orchestrators
 * open tasks at a steady rate for agents drawn from the fleet; each task's
 * agent signs on to one or both SPs, again and again while it works
 * (refreshing its session within the inactivity window, or opening a new one
 * after the old one expired or went idle); most tasks are ended through the
 * Tasks API (which revokes their live sessions and queues back-channel
 * logouts), the rest just stop; the sweeper runs every 15 s of simulated time
 * with the server's defaults (expiry, then inactivity, then the task-end
 * queue), the replay cache is purged every minute, the risk model learns every
 * sign-on. The rate is chosen so that the sessions still live at the end are
 * about `liveShare` of those stored.
 *
 * What the IdP decides is decided here in memory, following the repositories'
 * rules (lib/store/sqlite-sessions.ts openOrRefresh and the sweep statements,
 * sqlite-logout-outbox.ts endTask, sqlite-risk.ts, sqlite-audit.ts); the rows
 * are written with the repositories' own column lists by prepared statements
 * on one connection in large transactions, the audit entries chained with the
 * IdP's own chainEntry. Only two things differ from a server's writes, both
 * restored before the connection closes: the audit log's head-check trigger
 * (it costs more than the insert it guards) is dropped while rows go in, and
 * during the first growth the audit log's five secondary indexes are built
 * after the rows rather than row by row. `tessera audit verify` on the result
 * proves the chain.
 *
 * The simulation can be continued to a later moment (advanceTo), so the fleet
 * is "now" whenever a server starts on it: otherwise sessions seeded minutes
 * earlier would all expire or go idle at once under the measured run. Each
 * continuation first reloads the live sessions from the database, so what a
 * server did to them meanwhile (its sweeper) is taken into account.
 */

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const AGENT_EXTENSION = 'urn:tessera:scim:schemas:extension:agent:2.0:Agent';
const SCOPES = ['invoices:read', 'invoices:write', 'reports:read', 'ledger:read', 'payments:initiate'];
const ZONES = ['eu-west-1a', 'eu-west-1b', 'us-east-1a', 'us-east-1c', 'ap-south-1a'];
const TIERS: readonly SensitivityTier[] = ['high', 'medium', 'medium', 'medium', 'low'];
/** The server's defaults (lib/config): tier lifetimes, sweep interval and batch, replay purge, skews. */
const LIFETIME_SECONDS: Readonly<Record<SensitivityTier, number>> = { high: 300, medium: 600, low: 900 };
const SWEEP_INTERVAL_MS = 15_000;
const SWEEP_BATCH = 500;
const SWEEP_MAX_BATCHES = 20;
const REPLAY_PURGE_INTERVAL_MS = 60_000;
const TASK_TTL_SECONDS = 3_600;
const JWT_LIFETIME_SECONDS = 240;
const JWT_CLOCK_SKEW_SECONDS = 30;
const AUTHN_REQUEST_REPLAY_SECONDS = 180 * 2 + 60;
const INACTIVITY_MS = (DEFAULT_CLEANUP_POLICY.inactivityWindowSeconds ?? 300) * 1000;
/** Calibration of the task rate: sessions per task and how long a session stays live, on average, in this model. */
const SESSIONS_PER_TASK = 2.0;
const MEAN_LIVE_SECONDS = 300;
/** The first growth is done once the history is this close to the clock. */
const CAUGHT_UP_MS = 5_000;
/** Built after the rows during the first growth (their CREATE statements are read back from the schema). */
const DEFERRED_INDEXES = ['audit_log_agent', 'audit_log_agent_user_name', 'audit_log_task', 'audit_log_at', 'audit_log_assertion'];
const AUDIT_TRIGGER = 'audit_log_extends_head';

export interface FleetOptions {
  readonly agents: number;
  readonly sessions: number;
  /** Share of the stored sessions that are live at the end: 0.01–0.05 is what a busy fleet shows. */
  readonly liveShare: number;
  readonly spEntityIds: readonly string[];
  /** The orchestrator token name the history's tasks and agents are attributed to. */
  readonly orchestrator: string;
  readonly progress: (line: string) => void;
}

export interface FleetFigures {
  /** The moment the history had reached. */
  readonly at: string;
  readonly agents: number;
  readonly tasks: number;
  readonly openTasks: number;
  readonly sessions: number;
  readonly liveSessions: number;
  readonly agentsWithLiveSessions: number;
  readonly auditEntries: number;
  readonly logoutOutbox: number;
  readonly replayEntries: number;
  readonly riskBaselines: number;
  readonly databaseMiB: number;
}

/** A small, fast, seeded generator (xorshift32): the same history for the same seed. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x1_0000_0000;
  }
  between(low: number, high: number): number {
    return low + (high - low) * this.next();
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

/** A binary min-heap on `at`. */
class Heap<T extends { readonly at: number }> {
  private readonly items: T[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const items = this.items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= items[i]!.at) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < items.length && items[left]!.at < items[least]!.at) least = left;
        if (right < items.length && items[right]!.at < items[least]!.at) least = right;
        if (least === i) break;
        [items[least], items[i]] = [items[i]!, items[least]!];
        i = least;
      }
    }
    return top;
  }
}

interface FleetAgent {
  readonly audited: AuditedAgent;
  readonly scopes: readonly string[];
  readonly tier: SensitivityTier;
  readonly method: 'mtls' | 'jwt';
  readonly address: string;
}

interface SimTask {
  readonly id: string;
  readonly agent: FleetAgent;
  readonly tier: SensitivityTier;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  /** When the agent stops working on it. */
  readonly workEndsAt: number;
  /** How the orchestrator ends it then; undefined: it never does, the task just runs out. */
  readonly endStatus: TerminalTaskStatus | undefined;
}

type SimEvent =
  | { readonly at: number; readonly kind: 'open' }
  | { readonly at: number; readonly kind: 'signon'; readonly task: SimTask; readonly sp: string }
  | { readonly at: number; readonly kind: 'end'; readonly task: SimTask };

/** A live session as the sessions table holds it. */
interface LiveSession {
  readonly id: string;
  readonly sessionIndex: string;
  readonly agentId: string;
  readonly taskId: string;
  readonly spEntityId: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly createdAt: number;
  assertionId: string;
  authnMethod: string;
  expiresAt: number;
  lastActivityAt: number;
}

/** What the sessions table holds of a live session (not yet revoked). */
type SessionRow = Omit<StoredSessionRow, 'revoked_at' | 'revoke_reason'>;

/** The statements of one connection, with the repositories' column lists. */
function statements(db: SqliteDatabase) {
  return {
    insertAgent: db.prepare(
      `INSERT INTO agents (id, user_name, user_name_key, active, external_id, profile, extra_attributes, version, created_at, updated_at)
       VALUES (@id, @userName, @userNameKey, @active, @externalId, @profile, @extraAttributes, 1, @at, @at)`,
    ),
    insertCertificate: db.prepare('INSERT INTO agent_certificates (thumbprint, agent_id, pem, registered_at, retired_at) VALUES (?, ?, ?, ?, ?)'),
    insertTask: db.prepare(
      `INSERT INTO tasks (id, agent_id, scopes, tier, audiences, context, status, created_at, expires_at)
       VALUES (@id, @agentId, @scopes, @tier, @audiences, @context, 'OPEN', @createdAt, @expiresAt)`,
    ),
    endTask: db.prepare<[string, number, string]>(`UPDATE tasks SET status = ?, ended_at = ? WHERE id = ? AND status = 'OPEN'`),
    insertSession: db.prepare(
      `INSERT INTO sessions (id, session_index, agent_id, task_id, sp_entity_id, name_id, name_id_format,
                             assertion_id, authn_method, created_at, expires_at, last_activity_at)
       VALUES (@id, @sessionIndex, @agentId, @taskId, @spEntityId, @nameId, @nameIdFormat,
               @assertionId, @authnMethod, @createdAt, @expiresAt, @lastActivityAt)`,
    ),
    refreshSession: db.prepare<[string, string, number, number, string]>(
      'UPDATE sessions SET assertion_id = ?, authn_method = ?, expires_at = ?, last_activity_at = ? WHERE id = ?',
    ),
    endSession: db.prepare<[number, string, string]>('UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL'),
    liveSessions: db.prepare<[], SessionRow>('SELECT * FROM sessions WHERE revoked_at IS NULL'),
    // Queued by the revocation, then finished at once by the logout fan-out: the bench's SPs publish no SOAP SingleLogoutService.
    insertLogout: db.prepare(
      `INSERT INTO logout_outbox (id, session_id, agent_id, task_id, sp_entity_id, name_id, name_id_format, session_index,
                                  reason, state, attempts, next_attempt_at, last_error, created_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'skipped', 0, ?, 'no SOAP SingleLogoutService', ?, ?)`,
    ),
    acknowledgeTaskEnds: db.prepare('DELETE FROM task_end_queue'),
    insertAudit: db.prepare(
      `INSERT INTO audit_log (seq, at, event, actor, agent_id, agent_user_name, task_id, sp_entity_id, assertion_id,
                              session_id, model_hash, source_commit, training_data_version, reason, details, prev_hash, hash)
       VALUES (@seq, @at, @event, @actor, @agent_id, @agent_user_name, @task_id, @sp_entity_id, @assertion_id,
               @session_id, @model_hash, @source_commit, @training_data_version, @reason, @details, @prev_hash, @hash)`,
    ),
    auditHead: db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
  };
}

type Statements = ReturnType<typeof statements>;

/** One open connection while the history is written: the store for the repositories' single statements, and ours. */
interface Writer {
  readonly db: SqliteDatabase;
  readonly store: Store;
  readonly sql: Statements;
  /** The audit chain's head, advanced as entries are written. */
  head: { seq: number; hash: string };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** PEM as node:crypto's X509Certificate writes it (what the SCIM router stores), checked against it in provision(). */
function pemOf(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export class FleetHistory {
  private readonly random = new Random(0x7e55e7a);
  private readonly agenda = new Heap<SimEvent>();
  private readonly agents: FleetAgent[] = [];
  private readonly agentsById = new Map<string, AuditedAgent>();
  private readonly meanTaskGapMs: number;
  /** Simulated time (ms) the history has reached. */
  private clock = 0;
  private nextSweep = 0;
  private nextPurge = 0;

  // Per continuation: the live sessions, by id, by (task, SP) (newest first), by expiry and by last activity.
  private live = new Map<string, LiveSession>();
  private newestFor = new Map<string, LiveSession>();
  private byTask = new Map<string, Set<LiveSession>>();
  private byExpiry = new Heap<{ at: number; session: LiveSession }>();
  private byActivity = new Heap<{ at: number; session: LiveSession }>();
  private baselines = new Map<string, { baseline: AgentBaseline; at: number }>();

  private constructor(
    private readonly dataDir: string,
    private readonly options: FleetOptions,
  ) {
    const sessionsPerSecond = (options.liveShare * options.sessions) / MEAN_LIVE_SECONDS;
    this.meanTaskGapMs = (1000 * SESSIONS_PER_TASK) / sessionsPerSecond;
  }

  /** How far back the history starts: stored sessions / session rate. */
  static historySeconds(options: Pick<FleetOptions, 'liveShare'>): number {
    return MEAN_LIVE_SECONDS / options.liveShare;
  }

  /** Provisions the fleet and plays its history up to now. */
  static async grow(dataDir: string, options: FleetOptions): Promise<FleetHistory> {
    const history = new FleetHistory(dataDir, options);
    const now = Date.now();
    const start = now - FleetHistory.historySeconds(options) * 1000;
    const writer = history.open();
    // The first growth writes gigabytes into a copy nothing else reads: straight into the file, no WAL to copy
    // back afterwards (nothing is rolled back here; a failure abandons the copy). WAL again before closing.
    writer.db.pragma('journal_mode = OFF');
    const deferred = writer.db
      .prepare<[], { name: string; sql: string }>(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN (${DEFERRED_INDEXES.map((n) => `'${n}'`).join(', ')})`)
      .all();
    for (const index of deferred) writer.db.exec(`DROP INDEX ${index.name}`);
    try {
      await history.provision(writer, start);
      history.clock = start;
      history.nextSweep = start + SWEEP_INTERVAL_MS;
      history.nextPurge = start + REPLAY_PURGE_INTERVAL_MS;
      history.agenda.push({ at: start, kind: 'open' });
      // Playing hours of history takes minutes: play on until the history has caught up with the clock.
      for (let until = now; ; until = Date.now()) {
        await history.play(writer, until);
        if (Date.now() - until < CAUGHT_UP_MS) break;
      }
      const t0 = performance.now();
      for (const index of deferred) writer.db.exec(index.sql);
      options.progress(`built the audit log's ${deferred.length} secondary indexes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      writer.db.pragma('journal_mode = WAL');
    } finally {
      history.close(writer);
    }
    return history;
  }

  /** Plays the history on to `until`: what the IdP would have stored had it been running meanwhile. */
  async advanceTo(until: Date): Promise<void> {
    if (until.getTime() <= this.clock) return;
    const writer = this.open();
    try {
      await this.play(writer, until.getTime());
    } finally {
      this.close(writer);
    }
  }

  private open(): Writer {
    const db = openDatabase(this.dataDir, { synchronous: 'NORMAL' });
    // A scratch copy while no server runs: a crash means seeding again, so nothing is synced,
    // and the page cache holds the indexes that random keys (UUIDs) scatter writes over.
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -4000000');
    const sql = statements(db);
    const trigger = db.prepare<[string], string>(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?`).pluck().get(AUDIT_TRIGGER);
    if (!trigger) throw new Error(`the audit log has no ${AUDIT_TRIGGER} trigger: this bench does not know the schema`);
    this.auditTrigger = trigger;
    db.exec(`DROP TRIGGER ${AUDIT_TRIGGER}`);
    return { db, store: sqliteStore(db), sql, head: sql.auditHead.get() ?? { seq: 0, hash: GENESIS_HASH } };
  }

  private auditTrigger = '';

  private close(writer: Writer): void {
    if (writer.db.inTransaction) writer.db.exec('ROLLBACK');
    writer.db.exec(this.auditTrigger);
    writer.db.pragma('wal_checkpoint(TRUNCATE)');
    writer.db.close();
  }

  private audit(writer: Writer, event: AuditEvent, at: number): void {
    const entry = chainEntry(entryFromEvent(event, new Date(at)), writer.head.seq + 1, writer.head.hash);
    writer.sql.insertAudit.run(storedColumns(entry));
    writer.head = { seq: entry.seq, hash: entry.hash };
  }

  /** Agents were provisioned over the 2½ days before the history starts (credentials younger than the 72 h maximum age). */
  private async provision(writer: Writer, historyStart: number): Promise<void> {
    const started = performance.now();
    const count = this.options.agents;
    const first = historyStart - 60 * 3_600_000;
    const span = historyStart - 600_000 - first;
    const userName = (i: number) => `fleet-${pad(i, 7)}`;
    const certificates = new FleetCertificates(userName, new Date(first - 86_400_000), new Date(historyStart + 90 * 86_400_000));
    const { db, sql } = writer;
    db.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < count; i++) {
      const at = first + Math.floor((span * i) / count);
      const model = i % 40;
      const tier = this.random.pick(TIERS);
      const scopes = SCOPES.filter((_, s) => s < 2 || this.random.next() < 0.4);
      const der = await certificates.certificate(i, randomBytes(16));
      // The SCIM document an orchestrator sends, read by the SCIM router's own function; one agent in a
      // thousand has its certificate read there too, and the others' are checked to come out the same way.
      const parsed = i % 1_000 === 0;
      const write = agentWriteFromDocument(
        {
          schemas: [USER_SCHEMA, AGENT_EXTENSION],
          userName: userName(i),
          active: true,
          ...(parsed ? { x509Certificates: [{ value: der.toString('base64') }] } : {}),
          [AGENT_EXTENSION]: {
            owner: `team-${pad(i % 250, 3)}@example.com`,
            modelHash: `sha256:${pad(model, 4)}9f2c4e1b7a0d${pad(model * 7, 4)}`,
            sourceCommit: `${pad(model, 4)}3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d`,
            trainingDataVersion: `td-2026.${pad((model % 12) + 1, 2)}`,
            sensitivityTier: tier,
            computeZone: ZONES[i % ZONES.length]!,
            scopes,
          },
        },
        new Date(at),
        undefined,
      );
      const certificate = { thumbprint: createHash('sha256').update(der).digest('hex'), pem: pemOf(der) };
      if (parsed && (write.certificates.length !== 1 || write.certificates[0]!.thumbprint !== certificate.thumbprint || write.certificates[0]!.pem !== certificate.pem)) {
        throw new Error('a fleet certificate does not read back as the SCIM router reads it');
      }
      const id = randomUUID();
      sql.insertAgent.run({
        id,
        userName: write.userName,
        userNameKey: userNameKey(write.userName),
        active: 1,
        externalId: null,
        profile: JSON.stringify(write.profile),
        extraAttributes: JSON.stringify(write.extraAttributes),
        at,
      });
      sql.insertCertificate.run(certificate.thumbprint, id, certificate.pem, at, null);
      const audited: AuditedAgent = {
        id,
        userName: write.userName,
        modelHash: write.profile.modelHash,
        sourceCommit: write.profile.sourceCommit,
        trainingDataVersion: write.profile.trainingDataVersion,
      };
      this.agents.push({
        audited,
        scopes,
        tier,
        method: i % 2 === 0 ? 'mtls' : 'jwt',
        // The benchmarking range (RFC 2544): only ever a string in the records here.
        address: `198.18.${(i >> 8) & 0xff}.${i & 0xff}`,
      });
      this.agentsById.set(id, audited);
      this.audit(
        writer,
        {
          event: 'agent.provisioned',
          actor: `orchestrator:${this.options.orchestrator}`,
          agent: audited,
          details: { active: true, certificates: [certificate.thumbprint], profile: write.profile },
        },
        at,
      );
      if ((i + 1) % 25_000 === 0) this.options.progress(`provisioned ${(i + 1).toLocaleString('en-US')} agents`);
    }
    db.exec('COMMIT');
    this.options.progress(
      `provisioned ${count.toLocaleString('en-US')} agents with a certificate each in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  /** Reloads the live sessions: a server that ran on the copy since the last continuation may have ended some. */
  private loadLive(writer: Writer): void {
    this.live = new Map();
    this.newestFor = new Map();
    this.byTask = new Map();
    this.byExpiry = new Heap();
    this.byActivity = new Heap();
    for (const row of writer.sql.liveSessions.iterate()) {
      this.track({
        id: row.id,
        sessionIndex: row.session_index,
        agentId: row.agent_id,
        taskId: row.task_id,
        spEntityId: row.sp_entity_id,
        nameId: row.name_id,
        nameIdFormat: row.name_id_format,
        createdAt: row.created_at,
        assertionId: row.assertion_id,
        authnMethod: row.authn_method,
        expiresAt: row.expires_at,
        lastActivityAt: row.last_activity_at ?? row.created_at,
      });
    }
  }

  private track(session: LiveSession): void {
    this.live.set(session.id, session);
    const key = `${session.taskId}|${session.spEntityId}|${session.nameIdFormat}`;
    const newest = this.newestFor.get(key);
    if (!newest || newest.createdAt <= session.createdAt) this.newestFor.set(key, session);
    let ofTask = this.byTask.get(session.taskId);
    if (!ofTask) this.byTask.set(session.taskId, (ofTask = new Set()));
    ofTask.add(session);
    this.byExpiry.push({ at: session.expiresAt, session });
    this.byActivity.push({ at: session.lastActivityAt, session });
  }

  /** Plays the history to `end` in one transaction: pages that many rows share are written once. */
  private async play(writer: Writer, end: number): Promise<void> {
    const started = performance.now();
    const simulatedFrom = this.clock;
    this.loadLive(writer);
    this.baselines = new Map();
    let signOns = 0;
    let events = 0;
    let lastReport = performance.now();
    const { db } = writer;
    db.exec('BEGIN IMMEDIATE');
    for (;;) {
      const next = this.agenda.peek();
      const due = Math.min(next?.at ?? Infinity, end);
      if (this.nextSweep <= due) {
        await this.sweep(writer, this.nextSweep);
        this.clock = this.nextSweep;
        this.nextSweep += SWEEP_INTERVAL_MS;
        continue;
      }
      if (!next || next.at > end) break;
      this.agenda.pop();
      this.clock = next.at;
      if (next.kind === 'open') this.openTask(writer, next.at);
      else if (next.kind === 'signon') {
        await this.signOn(writer, next.task, next.sp, next.at);
        signOns += 1;
      } else this.endTask(writer, next.task, next.at);
      if (++events % 10_000 === 0) {
        if (performance.now() - lastReport > 15_000) {
          lastReport = performance.now();
          const done = (this.clock - simulatedFrom) / (end - simulatedFrom);
          this.options.progress(`fleet history: ${(done * 100).toFixed(0)} % of ${((end - simulatedFrom) / 60_000).toFixed(0)} simulated minutes`);
        }
      }
    }
    this.clock = end;
    // The risk model writes each agent's baseline at every sign-on; the last write is what stays.
    for (const [agentId, learnt] of this.baselines) await writer.store.risk.storeBaseline(agentId, learnt.baseline, new Date(learnt.at));
    db.exec('COMMIT');
    this.options.progress(
      `fleet history played from ${new Date(simulatedFrom).toISOString()} to ${new Date(end).toISOString()} ` +
        `(${signOns.toLocaleString('en-US')} sign-ons) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  private openTask(writer: Writer, at: number): void {
    const random = this.random;
    this.agenda.push({ at: at + Math.max(1, Math.round(random.exponential(this.meanTaskGapMs))), kind: 'open' });
    const agent = random.pick(this.agents);
    const tier = random.next() < 0.8 ? agent.tier : random.pick(TIERS);
    const scopes = agent.scopes.filter((_, i) => i === 0 || random.next() < 0.5);
    const sps = random.next() < 0.4 ? [...this.options.spEntityIds] : [random.pick(this.options.spEntityIds)];
    // Work lasts 1 to 30 minutes, log-uniformly.
    const workSeconds = Math.exp(random.between(Math.log(60), Math.log(1_800)));
    const roll = random.next();
    const endStatus: TerminalTaskStatus | undefined = roll < 0.78 ? 'COMPLETED' : roll < 0.88 ? 'FAILED' : roll < 0.92 ? 'CANCELLED' : undefined;
    const task: SimTask = {
      id: timeOrderedUuid(),
      agent,
      tier,
      scopes,
      expiresAt: at + TASK_TTL_SECONDS * 1000,
      workEndsAt: at + Math.round(workSeconds * 1000),
      endStatus,
    };
    writer.sql.insertTask.run({
      id: task.id,
      agentId: agent.audited.id,
      scopes: JSON.stringify(scopes),
      tier,
      audiences: JSON.stringify(sps),
      context: JSON.stringify({ cidrs: [], computeZone: undefined }),
      createdAt: at,
      expiresAt: task.expiresAt,
    });
    this.audit(
      writer,
      {
        event: 'task.opened',
        actor: `orchestrator:${this.options.orchestrator}`,
        agent: agent.audited,
        taskId: task.id,
        details: { scopes, tier, audiences: sps, expiresAt: new Date(task.expiresAt).toISOString() },
      },
      at,
    );
    for (const sp of sps) this.agenda.push({ at: at + Math.round(random.between(1_000, 30_000)), kind: 'signon', task, sp });
    if (endStatus !== undefined) this.agenda.push({ at: task.workEndsAt + Math.round(random.between(500, 5_000)), kind: 'end', task });
  }

  /** A sign-on the policy allows: replay entries (JWT, AuthnRequest), the risk model, openOrRefresh, the audit entry. */
  private async signOn(writer: Writer, task: SimTask, sp: string, at: number): Promise<void> {
    const { agent } = task;
    const now = new Date(at);
    if (agent.method === 'jwt') {
      const iat = Math.floor(at / 1000);
      await writer.store.replay.checkAndStore(`authn-request:${sp}`, samlId(), new Date(at + AUTHN_REQUEST_REPLAY_SECONDS * 1000), now);
      await writer.store.replay.checkAndStore(`agent-jwt:${agent.audited.id}`, randomUUID(), new Date((iat + JWT_LIFETIME_SECONDS + JWT_CLOCK_SKEW_SECONDS) * 1000), now);
    }
    let learnt = this.baselines.get(agent.audited.id);
    if (!learnt) {
      learnt = { baseline: (await writer.store.risk.load(agent.audited.id, [], sp)).baseline, at };
      this.baselines.set(agent.audited.id, learnt);
    }
    observe(learnt.baseline, { at: now, spEntityId: sp, network: sourceNetwork(agent.address), scopes: task.scopes });
    learnt.at = at;

    // openOrRefresh (sqlite-sessions.ts): the newest live session of this task at this SP takes the new
    // assertion unless it expired or went idle; otherwise a new session opens.
    const expiresAt = Math.min(at + LIFETIME_SECONDS[task.tier] * 1000, task.expiresAt);
    const assertionId = samlId();
    const format = NAMEID_FORMAT.persistent;
    const current = this.newestFor.get(`${task.id}|${sp}|${format}`);
    let session: LiveSession;
    let refreshed = false;
    if (current && this.live.has(current.id) && current.expiresAt > at && current.lastActivityAt > at - INACTIVITY_MS) {
      session = current;
      session.assertionId = assertionId;
      session.authnMethod = agent.method;
      session.expiresAt = expiresAt;
      session.lastActivityAt = at;
      writer.sql.refreshSession.run(assertionId, agent.method, expiresAt, at, session.id);
      this.byExpiry.push({ at: expiresAt, session });
      this.byActivity.push({ at, session });
      refreshed = true;
    } else {
      session = {
        id: timeOrderedUuid(),
        sessionIndex: samlId(),
        agentId: agent.audited.id,
        taskId: task.id,
        spEntityId: sp,
        nameId: agent.audited.userName,
        nameIdFormat: format,
        createdAt: at,
        assertionId,
        authnMethod: agent.method,
        expiresAt,
        lastActivityAt: at,
      };
      writer.sql.insertSession.run({ ...session });
      this.track(session);
    }
    this.audit(
      writer,
      {
        event: 'signon.issued',
        actor: `agent:${agent.audited.userName}`,
        agent: agent.audited,
        taskId: task.id,
        spEntityId: sp,
        assertionId,
        sessionId: session.id,
        details: {
          authnMethod: agent.method,
          flow: agent.method === 'jwt' ? 'sp-initiated' : 'idp-initiated',
          scopes: task.scopes,
          sessionNotOnOrAfter: new Date(expiresAt).toISOString(),
          sessionRefreshed: refreshed,
          sourceAddress: agent.address,
        },
      },
      at,
    );
    // The agent comes back to this SP after a pause of 1 to 9 minutes while it still works on the task:
    // within the inactivity window that refreshes the session, past it the sweeper will have ended it.
    const again = at + Math.round(this.random.between(60_000, 540_000));
    if (again < task.workEndsAt && again < task.expiresAt) this.agenda.push({ at: again, kind: 'signon', task, sp });
  }

  /** PATCH /api/v1/tasks/{id} (sqlite-logout-outbox.ts endTask): the task ends, its live sessions are revoked and logouts queued. */
  private endTask(writer: Writer, task: SimTask, at: number): void {
    const status = task.endStatus!;
    if (writer.sql.endTask.run(status, at, task.id).changes !== 1) return;
    const reason = `task_${status.toLowerCase()}`;
    const revoked = [...(this.byTask.get(task.id) ?? [])]
      .filter((s) => s.expiresAt > at)
      .sort((a, b) => a.createdAt - b.createdAt);
    for (const session of revoked) this.end(writer, session, at, reason, true);
    this.audit(
      writer,
      {
        event: 'task.ended',
        actor: `orchestrator:${this.options.orchestrator}`,
        agent: task.agent.audited,
        taskId: task.id,
        details: { status, revokedSessions: revoked.map((s) => s.id) },
      },
      at,
    );
  }

  private end(writer: Writer, session: LiveSession, revokedAt: number, reason: string, logout: boolean): boolean {
    this.live.delete(session.id);
    const ofTask = this.byTask.get(session.taskId);
    ofTask?.delete(session);
    if (ofTask?.size === 0) this.byTask.delete(session.taskId);
    const key = `${session.taskId}|${session.spEntityId}|${session.nameIdFormat}`;
    if (this.newestFor.get(key) === session) this.newestFor.delete(key);
    if (writer.sql.endSession.run(revokedAt, reason, session.id).changes !== 1) return false;
    if (logout) {
      writer.sql.insertLogout.run(
        timeOrderedUuid(),
        session.id,
        session.agentId,
        session.taskId,
        session.spEntityId,
        session.nameId,
        session.nameIdFormat,
        session.sessionIndex,
        reason,
        revokedAt,
        revokedAt,
        revokedAt,
      );
    }
    return true;
  }

  /** One sweep of the server's sweeper at `at` (lib/sessions/sweeper.ts, default cleanup policy), and the replay purge when due. */
  private async sweep(writer: Writer, at: number): Promise<void> {
    // Expiry first, oldest first, in batches as the sweeper takes them.
    let budget = SWEEP_BATCH * SWEEP_MAX_BATCHES;
    while (budget > 0 && (this.byExpiry.peek()?.at ?? Infinity) <= at) {
      const { at: expiresAt, session } = this.byExpiry.pop()!;
      if (!this.live.has(session.id) || session.expiresAt !== expiresAt) continue;
      budget -= 1;
      if (!this.end(writer, session, expiresAt, SESSION_END_REASON.expired, false)) continue;
      this.audit(writer, await this.sessionEndEvent(writer, 'session.expired', 'system', session, SESSION_END_REASON.expired, { expiredAt: new Date(expiresAt).toISOString() }), at);
    }
    budget = SWEEP_BATCH * SWEEP_MAX_BATCHES;
    const idleSince = at - INACTIVITY_MS;
    const notIdle: Array<{ at: number; session: LiveSession }> = [];
    while (budget > 0 && (this.byActivity.peek()?.at ?? Infinity) <= idleSince) {
      const entry = this.byActivity.pop()!;
      const { session } = entry;
      if (!this.live.has(session.id) || session.lastActivityAt !== entry.at) continue;
      // An expired session that the expiry step left for the next sweep is not idle-revoked (expires_at > now).
      if (session.expiresAt <= at) {
        notIdle.push(entry);
        continue;
      }
      budget -= 1;
      if (!this.end(writer, session, at, SESSION_END_REASON.inactivity, true)) continue;
      this.audit(
        writer,
        await this.sessionEndEvent(writer, 'policy.revoked', 'policy', session, SESSION_END_REASON.inactivity, {
          condition: 'inactivityWindow',
          inactivityWindowSeconds: INACTIVITY_MS / 1000,
          lastActivityAt: new Date(session.lastActivityAt).toISOString(),
          policy: DEFAULT_CLEANUP_POLICY.source,
        }),
        at,
      );
    }
    for (const entry of notIdle) this.byActivity.push(entry);
    writer.sql.acknowledgeTaskEnds.run();
    if (at >= this.nextPurge) {
      this.nextPurge += REPLAY_PURGE_INTERVAL_MS;
      while ((await writer.store.replay.purgeExpired(new Date(at), 10_000)) === 10_000);
    }
  }

  /** The sweeper's audit record of a session it ended (lib/sessions/sweeper.ts). */
  private async sessionEndEvent(
    writer: Writer,
    event: 'session.expired' | 'policy.revoked',
    actor: string,
    session: LiveSession,
    reason: string,
    details: Record<string, unknown>,
  ): Promise<AuditEvent> {
    let agent = this.agentsById.get(session.agentId);
    if (!agent) {
      const stored = await writer.store.agents.get(session.agentId);
      if (stored) {
        agent = auditedAgent(stored);
        this.agentsById.set(session.agentId, agent);
      }
    }
    return sessionEvent(event, actor, { ...session, revokeReason: reason }, agent, details);
  }

  /** What the directory holds at the moment the history has reached (no server running). */
  figures(): FleetFigures {
    const db = openDatabase(this.dataDir);
    try {
      const count = (sql: string, ...params: unknown[]): number => db.prepare(sql).pluck().get(...params) as number;
      const now = this.clock;
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const pages = db.pragma('page_count', { simple: true }) as number;
      return {
        at: new Date(now).toISOString(),
        agents: count('SELECT count(*) FROM agents'),
        tasks: count('SELECT count(*) FROM tasks'),
        openTasks: count(`SELECT count(*) FROM tasks WHERE status = 'OPEN' AND expires_at > ?`, now),
        sessions: count('SELECT count(*) FROM sessions'),
        liveSessions: count('SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?', now),
        agentsWithLiveSessions: count('SELECT count(DISTINCT agent_id) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?', now),
        auditEntries: count('SELECT count(*) FROM audit_log'),
        logoutOutbox: count('SELECT count(*) FROM logout_outbox'),
        replayEntries: count('SELECT count(*) FROM replay_cache'),
        riskBaselines: count('SELECT count(*) FROM agent_baselines'),
        databaseMiB: Math.round((pageSize * pages) / 2 ** 20),
      };
    } finally {
      db.close();
    }
  }
}
