/**
 * `npm run eval:anomaly`: replays a seeded synthetic workload through the IdP's own
 * decision path — PolicyEnforcer.checkSignOn over a real SQLite store: baseline read,
 * assessRisk, decide, then learn / approval request / revoke — and reports how well
 * the behavioural model finds injected incidents.
 *
 * The workload (seed 7, deterministic):
 * - 10 roles, each with 4 typical SPs and 4 everyday scopes plus one sensitive scope
 *   its agents hold but do not normally use; 200 agents, 20 per role.
 * - Each agent works a daily window of 8–14 h starting at a random UTC hour, signing on
 *   2–8 times an hour (scheduled jobs: gaps log-normal around the mean, σ = 0.35), with
 *   a daily rhythm (the rate rises and falls ±50 % across the window); it reaches 2–3
 *   of its role's SPs (and, in 2 % of sign-ons, another SP of its role), asks for one
 *   of 2–3 usual scope sets (1 % a new combination of scopes it already uses), from 1–2
 *   home networks. On 0.3 % of agent-days it moves to a new network for good (a
 *   redeployment): each such move is benign and its step-up counts as a false alarm.
 * - 7 days. Days 1–2 are learning; from day 3, 100 incidents (20 per kind) on 100
 *   distinct agents, each starting at a random time inside the agent's window:
 *     stolen_credential  5 sign-ons from a network the agent never used, at its usual pace
 *     burst              30 sign-ons at 20× the agent's usual rate (exfiltration)
 *     lateral            5 sign-ons to SPs of other roles
 *     scope_escalation   5 sign-ons asking for the sensitive scope
 *     unusual_hours      5 sign-ons in the middle of the agent's off-hours
 *   The agent's own traffic goes on during an incident.
 * - The owner simulated: a held benign sign-on is approved and retried (so the
 *   baseline learns it); incident requests are denied; after a revoke, the hold is
 *   lifted by approving the next benign sign-on (incident response, not a false alarm).
 *
 * Detected = any sign-on of the incident answered step_up, deny or revoke. Delay = the
 * 1-based index of the first such sign-on within the incident. A false alarm = an
 * agent-day with at least one benign sign-on refused for any reason other than a hold
 * left by a real incident.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../lib/store/database.js';
import { SqliteRiskRepository } from '../lib/store/sqlite-risk.js';
import { SqliteApprovalRepository } from '../lib/store/sqlite-approvals.js';
import { silentLogger } from '../lib/common/log.js';
import { isTesseraError } from '../lib/common/errors.js';
import type { Agent } from '../lib/agents/index.js';
import type { Task } from '../lib/tasks/task.js';
import type { AuditEvent, AuditLog } from '../lib/audit/index.js';
import { noAlerts } from '../lib/alerts/security-alert.js';
import { PolicyEnforcer } from '../lib/policy/enforcer.js';
import { DEFAULT_POLICY } from '../lib/policy/policy-config.js';

const SEED = 7;
const AGENTS = 200;
const ROLES = 10;
const DAYS = 7;
const LEARNING_DAYS = 2;
const INCIDENTS_PER_KIND = 20;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 10, 2);

const KINDS = ['stolen_credential', 'burst', 'lateral', 'scope_escalation', 'unusual_hours'] as const;
type IncidentKind = (typeof KINDS)[number];

/** mulberry32: small, seeded, good enough for a workload generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const shuffled = <T>(list: readonly T[]): T[] => {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
};

interface Role {
  readonly id: string;
  readonly sps: string[];
  readonly scopes: string[];
  readonly sensitive: string;
}

interface SimAgent {
  readonly agent: Agent;
  readonly role: Role;
  readonly startHour: number;
  readonly windowHours: number;
  readonly ratePerHour: number;
  readonly sps: string[];
  readonly scopeSets: string[][];
  networks: string[];
}

interface SignOn {
  readonly at: number;
  readonly sim: SimAgent;
  readonly sp: string;
  readonly scopes: string[];
  readonly address: string;
  readonly incident: Incident | undefined;
  /** A benign move to a new network (counted as a false alarm if refused). */
  readonly move?: boolean;
}

interface Incident {
  readonly kind: IncidentKind;
  readonly sim: SimAgent;
  readonly events: number;
  seen: number;
  detectedAt: number | undefined;
  end: number;
}

const roles: Role[] = Array.from({ length: ROLES }, (_, r) => ({
  id: `role-${r}`,
  sps: Array.from({ length: 4 }, (_, s) => `https://sp-${r}-${s}.example.test/saml`),
  scopes: Array.from({ length: 4 }, (_, s) => `r${r}:scope${s}`),
  sensitive: `r${r}:admin`,
}));

function makeAgent(i: number): SimAgent {
  const role = roles[i % ROLES]!;
  const id = `agent-${String(i).padStart(3, '0')}`;
  const agent: Agent = {
    id,
    userName: id,
    active: true,
    externalId: undefined,
    profile: {
      owner: `owner-${i % 37}@example.com`,
      modelHash: 'sha256:model',
      sourceCommit: undefined,
      trainingDataVersion: undefined,
      sensitivityTier: 'medium',
      computeZone: 'eu-west-1a',
      allowedCidrs: [],
      scopes: [],
    },
    certificates: [],
    extraAttributes: {},
    groups: [{ id: role.id, displayName: role.id }],
    grantedScopes: [...role.scopes, role.sensitive],
    version: 1,
    createdAt: new Date(START),
    updatedAt: new Date(START),
  };
  const sps = shuffled(role.sps).slice(0, 2 + Math.floor(random() * 2));
  const scopeSets = Array.from({ length: 2 + Math.floor(random() * 2) }, () => shuffled(role.scopes).slice(0, 1 + Math.floor(random() * 2)));
  const networks = Array.from({ length: 1 + Math.floor(random() * 2) }, () => `10.${i % 250}.${Math.floor(random() * 250)}`);
  return {
    agent,
    role,
    startHour: Math.floor(random() * 24),
    windowHours: 8 + Math.floor(random() * 7),
    ratePerHour: between(2, 8),
    sps,
    scopeSets,
    networks,
  };
}

const address = (network: string) => `${network}.${1 + Math.floor(random() * 250)}`;

function benignSignOn(sim: SimAgent, at: number): SignOn {
  const sp = random() < 0.02 ? pick(sim.role.sps) : pick(sim.sps);
  const scopes = random() < 0.01 ? shuffled([...new Set(sim.scopeSets.flat())]).slice(0, 2) : pick(sim.scopeSets);
  return { at, sim, sp, scopes, address: address(pick(sim.networks)), incident: undefined };
}

/** The agent's rate at a moment of its day: its mean, ±50 % across its window. */
function rateAt(sim: SimAgent, at: number): number {
  const hourOfWindow = (((at - START) / HOUR - sim.startHour) % 24 + 24) % 24;
  return sim.ratePerHour * (1 + 0.5 * Math.sin((Math.PI * hourOfWindow) / sim.windowHours));
}

function windowStart(sim: SimAgent, day: number): number {
  return START + day * DAY + sim.startHour * HOUR;
}

function generate(sims: SimAgent[]): { signOns: SignOn[]; incidents: Incident[]; moves: number } {
  const signOns: SignOn[] = [];
  let moves = 0;
  for (const sim of sims) {
    for (let day = 0; day < DAYS; day++) {
      const open = windowStart(sim, day);
      const close = open + sim.windowHours * HOUR;
      const move = random() < 0.003 ? open + random() * (close - open) : undefined;
      let moved = false;
      for (let at = open + random() * (HOUR / sim.ratePerHour); at < close; ) {
        if (move !== undefined && !moved && at >= move) {
          moved = true;
          moves += 1;
          sim.networks = [`172.${16 + (moves % 16)}.${Math.floor(random() * 250)}`];
          signOns.push({ ...benignSignOn(sim, at), move: true });
        } else {
          signOns.push(benignSignOn(sim, at));
        }
        at += (HOUR / rateAt(sim, at)) * Math.exp(0.35 * gaussian());
      }
    }
  }
  const incidents: Incident[] = [];
  const victims = shuffled(sims).slice(0, KINDS.length * INCIDENTS_PER_KIND);
  victims.forEach((sim, i) => {
    const kind = KINDS[i % KINDS.length]!;
    const day = LEARNING_DAYS + Math.floor(random() * (DAYS - LEARNING_DAYS - 1));
    const open = windowStart(sim, day);
    let at = open + between(0.2, 0.7) * sim.windowHours * HOUR;
    if (kind === 'unusual_hours') at = open + (sim.windowHours + (24 - sim.windowHours) / 2) * HOUR;
    const count = kind === 'burst' ? 30 : 5;
    const incident: Incident = { kind, sim, events: count, seen: 0, detectedAt: undefined, end: at };
    const attackerNetwork = `203.0.${i % 250}`;
    for (let k = 0; k < count; k++) {
      const pace = kind === 'burst' ? 20 * rateAt(sim, at) : kind === 'unusual_hours' ? 4 : rateAt(sim, at);
      at += (HOUR / pace) * Math.exp(0.35 * gaussian());
      const base = benignSignOn(sim, at);
      const otherRole = roles[(roles.indexOf(sim.role) + 1 + Math.floor(random() * (ROLES - 1))) % ROLES]!;
      signOns.push({
        ...base,
        incident,
        ...(kind === 'stolen_credential' ? { address: address(attackerNetwork) } : {}),
        ...(kind === 'lateral' ? { sp: pick(otherRole.sps) } : {}),
        ...(kind === 'scope_escalation' ? { scopes: [...pick(sim.scopeSets), sim.role.sensitive] } : {}),
      });
    }
    incident.end = at;
    incidents.push(incident);
  });
  signOns.sort((a, b) => a.at - b.at);
  return { signOns, incidents, moves };
}

/** The enforcer's audit trail, kept only as far as the report needs it: the last refusal's explanation. */
const lastRefusal: { event: AuditEvent | undefined } = { event: undefined };
const audit: AuditLog = {
  async record(event) {
    if (event.event.startsWith('policy.')) lastRefusal.event = event;
  },
  // The enforcer records everything through record(); no store transaction appends here.
  recorded() {},
};

/** What a refusal was for: its reason codes and, for risk, the signals behind the score. */
function explain(event: AuditEvent | undefined): string[] {
  const details = (event?.details ?? {}) as { reasons?: Array<{ code: string }>; contributions?: Array<{ signal: string; weight: number }> };
  const signals = (details.contributions ?? []).filter((c) => c.weight >= 0.3).map((c) => c.signal);
  return [...(details.reasons ?? []).map((r) => r.code), ...signals];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-eval-'));
  const db = openDatabase(dir, { synchronous: 'NORMAL' });
  try {
    const risk = new SqliteRiskRepository(db);
    const approvals = new SqliteApprovalRepository(db);
    const enforcer = new PolicyEnforcer({
      policy: DEFAULT_POLICY,
      risk,
      approvals,
      audit,
      logger: silentLogger,
      alerts: noAlerts,
      onLogoutsQueued: () => undefined,
    });
    const sims = Array.from({ length: AGENTS }, (_, i) => makeAgent(i));
    const { signOns, incidents, moves } = generate(sims);
    const falseAlarmDays = new Set<string>();
    const heldByIncident = new Set<string>();
    const falseAlarmCauses = new Map<string, number>();
    let checks = 0;
    let checkMs = 0;

    const check = async (event: SignOn): Promise<{ kind: 'allow' } | { kind: 'refused'; code: string; approvalId: string | undefined }> => {
      const now = new Date(event.at);
      const day = Math.floor((event.at - START) / DAY);
      const task: Task = {
        id: `${event.sim.agent.id}-d${day}`,
        agentId: event.sim.agent.id,
        scopes: event.scopes,
        tier: 'medium',
        audiences: [],
        context: { cidrs: [], computeZone: undefined },
        status: 'OPEN',
        createdAt: new Date(START + day * DAY),
        expiresAt: new Date(START + (day + 2) * DAY),
        endedAt: undefined,
      };
      let approvalId: string | undefined;
      const started = performance.now();
      try {
        await enforcer.checkSignOn({
          agent: event.sim.agent,
          task,
          grantedScopes: event.scopes,
          spEntityId: event.sp,
          sourceAddress: event.address,
          claimedComputeZone: undefined,
          now,
          onHeld: (id) => (approvalId = id),
        });
        return { kind: 'allow' };
      } catch (error) {
        if (!isTesseraError(error)) throw error;
        return { kind: 'refused', code: error.code, approvalId };
      } finally {
        checkMs += performance.now() - started;
        checks += 1;
      }
    };

    for (const event of signOns) {
      const outcome = await check(event);
      const agentId = event.sim.agent.id;
      const now = new Date(event.at);
      if (event.incident) {
        const incident = event.incident;
        incident.seen += 1;
        if (outcome.kind === 'refused') {
          incident.detectedAt ??= incident.seen;
          if (outcome.code === 'policy_revoked') heldByIncident.add(agentId);
          if (outcome.approvalId) await approvals.decide(outcome.approvalId, 'denied', 'owner', now, 300);
        }
        continue;
      }
      if (outcome.kind === 'allow') continue;
      const incidentHold = heldByIncident.has(agentId);
      if (!incidentHold) {
        falseAlarmDays.add(`${agentId}/${Math.floor((event.at - START) / DAY)}`);
        for (const cause of explain(lastRefusal.event)) falseAlarmCauses.set(cause, (falseAlarmCauses.get(cause) ?? 0) + 1);
      }
      if (outcome.code === 'policy_revoked') continue;
      // The owner looks, approves (lifting any hold) and the agent retries.
      if (outcome.approvalId) {
        await approvals.decide(outcome.approvalId, 'approved', 'owner', now, 300);
        heldByIncident.delete(agentId);
        await check(event);
      }
    }

    const agentDays = AGENTS * DAYS;
    const rows = KINDS.map((kind) => {
      const ofKind = incidents.filter((i) => i.kind === kind);
      const detected = ofKind.filter((i) => i.detectedAt !== undefined);
      const delays = detected.map((i) => i.detectedAt!).sort((a, b) => a - b);
      return { kind, total: ofKind.length, detected: detected.length, median: median(delays), max: delays.at(-1) };
    });
    const allDelays = incidents.filter((i) => i.detectedAt !== undefined).map((i) => i.detectedAt!).sort((a, b) => a - b);
    const detectedTotal = allDelays.length;
    const out: string[] = [];
    out.push(`Tessera anomaly evaluation — seed ${SEED}: ${AGENTS} agents, ${DAYS} days, ${signOns.length} sign-ons (${moves} benign network moves), ${incidents.length} incidents`);
    out.push('');
    out.push('| incident | injected | detected | recall | median delay (events) | worst delay |');
    out.push('|---|---:|---:|---:|---:|---:|');
    for (const row of rows) {
      out.push(`| ${row.kind} | ${row.total} | ${row.detected} | ${pct(row.detected / row.total)} | ${row.median ?? '–'} | ${row.max ?? '–'} |`);
    }
    out.push(`| **all** | ${incidents.length} | ${detectedTotal} | ${pct(detectedTotal / incidents.length)} | ${median(allDelays) ?? '–'} | ${allDelays.at(-1) ?? '–'} |`);
    out.push('');
    out.push(`false alarms: ${falseAlarmDays.size} of ${agentDays} agent-days = ${pct(falseAlarmDays.size / agentDays)}`);
    out.push(`benign refusals by cause: ${[...falseAlarmCauses].map(([cause, n]) => `${cause} ${n}`).join(', ') || 'none'}`);
    out.push(`decision path (SQLite read, score, decide, write): ${((checkMs * 1000) / checks).toFixed(1)} µs per sign-on over ${checks} checks`);
    const recall = detectedTotal / incidents.length;
    const targets = [
      { name: 'recall ≥ 95 %', met: recall >= 0.95 },
      { name: 'false alarms ≤ 1 % of agent-days', met: falseAlarmDays.size / agentDays <= 0.01 },
      { name: 'median delay ≤ 3 events', met: (median(allDelays) ?? Infinity) <= 3 },
    ];
    out.push(`targets: ${targets.map((t) => `${t.name}: ${t.met ? 'met' : 'NOT MET'}`).join('; ')}`);
    process.stdout.write(out.join('\n') + '\n');
    process.exitCode = targets.every((t) => t.met) ? 0 : 1;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(sorted: readonly number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function pct(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}

await main();
