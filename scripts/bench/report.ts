import type { Baseline } from './baselines.js';
import type { ServerHandling } from './server-log.js';
import type { LoadResult } from './load.js';
import type { StatementPlan } from './plans.js';
import type { FleetFigures } from './seed.js';
import type { ScimListFigure } from './scim-lists.js';

/*
 * The benchmark's one table, and the targets of issue 6 checked against it.
 * Ratios are per core: a run on N workers is compared with N times the
 * single-core baseline.
 */

export interface ScenarioFigure {
  readonly id: string;
  readonly label: string;
  readonly workers: number;
  readonly load: LoadResult;
  /** CPU time of every server process (primary and workers) over the run, per response. */
  readonly serverCpuMicrosPerResponse: number;
  /** CPU time of this process (the load generator) over the run, per response. */
  readonly generatorCpuMicrosPerResponse: number;
  /** Share of the machine (all CPUs over the run's wall time) the server and the load generator took. */
  readonly serverMachineShare: number;
  readonly generatorMachineShare: number;
  /** Share of the machine busy over the run, whoever used it (/proc/stat): the two above plus the kernel's work outside any process. */
  readonly machineBusyShare: number;
  /** Set when the load was held at this rate: throughput ratios then say nothing. */
  readonly fixedRate?: number;
  /** Held-rate IdP runs: the IdP's own handling of the run's sign-ons, from its log (server-log.ts). */
  readonly serverHandlingMs?: ServerHandling;
}

export interface DeprovisionTrial {
  readonly liveSessionsBefore: number;
  readonly status: number;
  readonly milliseconds: number;
  readonly nextSignOnStatus: number;
  readonly nextSignOnError: string | undefined;
  readonly liveSessionsAfter: number;
}

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  /** undefined: not measured in this run (--only). */
  readonly met: boolean | undefined;
}

export interface SeedingFigures {
  readonly provisionAndHistorySeconds: number;
  /** Each later continuation of the history to "now", before a server starts on the copy. */
  readonly advanceSeconds: readonly number[];
  readonly auditVerifySeconds: number | undefined;
  readonly auditVerified: string | undefined;
  readonly fleet: FleetFigures;
}

export interface BenchReport {
  readonly machine: Record<string, string | number>;
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly notes: readonly string[];
  readonly baselines: Readonly<Record<string, Baseline>>;
  readonly scenarios: readonly ScenarioFigure[];
  readonly deprovision: readonly DeprovisionTrial[];
  readonly seeding: SeedingFigures | undefined;
  readonly plans: readonly StatementPlan[] | undefined;
  readonly scimLists: readonly ScimListFigure[] | undefined;
  readonly targets: readonly Target[];
  readonly profiles: string | undefined;
}

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const latency = (ms: number): string => number(ms, ms < 10 ? 1 : 0);
const percent = (share: number): string => `${number(share * 100)} %`;

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function renderTable(report: BenchReport): string {
  const raw = report.baselines.rawSign?.opsPerSecond;
  const samlify = report.baselines.samlify?.opsPerSecond;
  const ratio = (perCore: number, limit: number | undefined) => (limit === undefined ? '–' : number(perCore / limit, 2));
  const lines: string[] = [];
  lines.push(
    row([
      'scenario',
      'workers',
      'responses/s',
      'per core',
      'p50 ms',
      'p99 ms',
      'server CPU µs/response',
      'load-generator CPU µs/response',
      'machine share: server / load generator / busy in all',
      '× raw-sign limit (per core)',
      '× samlify (per core)',
      'non-2xx or failed',
    ]),
  );
  lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const scenario of report.scenarios) {
    const perCore = scenario.load.rps / scenario.workers;
    lines.push(
      row([
        scenario.label,
        String(scenario.workers),
        number(scenario.load.rps),
        number(perCore),
        latency(scenario.load.latencyMs.p50),
        latency(scenario.load.latencyMs.p99),
        number(scenario.serverCpuMicrosPerResponse),
        number(scenario.generatorCpuMicrosPerResponse),
        `${percent(scenario.serverMachineShare)} / ${percent(scenario.generatorMachineShare)} / ${percent(scenario.machineBusyShare)}`,
        scenario.fixedRate === undefined ? ratio(perCore, raw) : '(held rate)',
        scenario.fixedRate === undefined ? ratio(perCore, samlify) : '(held rate)',
        String(scenario.load.non2xx + scenario.load.errors + scenario.load.timeouts),
      ]),
    );
  }
  for (const baseline of Object.values(report.baselines)) {
    const threads = Number(/(\d+) threads at once/.exec(baseline.name)?.[1] ?? 1);
    const perCore = baseline.opsPerSecond / threads;
    lines.push(
      row([
        `baseline, in-process: ${baseline.name}`,
        String(threads),
        number(baseline.opsPerSecond),
        number(perCore),
        '',
        '',
        '',
        number(1e6 / perCore),
        '',
        ratio(perCore, raw),
        ratio(perCore, samlify),
        '',
      ]),
    );
  }
  return lines.join('\n');
}

export function renderScimLists(figures: readonly ScimListFigure[]): string {
  const lines = [row(['GET /scim/v2/Users?…', 'ms (each run)', 'totalResults', 'itemsPerPage', 'worst /healthz meanwhile, ms'])];
  lines.push(row(['---', '---:', '---:', '---:', '---:']));
  for (const figure of figures) {
    lines.push(
      row([
        `\`${figure.query}\``,
        figure.milliseconds.map((ms) => number(ms)).join(' / '),
        number(figure.totalResults),
        number(figure.itemsPerPage),
        number(figure.worstHealthzMs),
      ]),
    );
  }
  return lines.join('\n');
}

export function renderDeprovision(trials: readonly DeprovisionTrial[]): string {
  const lines = [
    row(['live sessions before', 'SCIM PATCH active=false', 'answered in ms', 'next sign-on', 'live sessions after']),
    row(['---:', '---:', '---:', '---', '---:']),
  ];
  for (const t of trials) {
    lines.push(
      row([
        number(t.liveSessionsBefore),
        String(t.status),
        number(t.milliseconds, 1),
        `${t.nextSignOnStatus}${t.nextSignOnError ? ` (${t.nextSignOnError})` : ''}`,
        number(t.liveSessionsAfter),
      ]),
    );
  }
  return lines.join('\n');
}

export function renderSeeding(seeding: SeedingFigures): string {
  const f = seeding.fleet;
  const lines = [
    row(['fleet-scale copy', 'value']),
    row(['---', '---:']),
    row(['agents (each with a certificate)', number(f.agents)]),
    row(['tasks (open now)', `${number(f.tasks)} (${number(f.openTasks)})`]),
    row(['stored sessions', number(f.sessions)]),
    row([`live sessions (agents holding them) at ${f.at}`, `${number(f.liveSessions)} = ${number((100 * f.liveSessions) / Math.max(1, f.sessions), 1)} % (${number(f.agentsWithLiveSessions)})`]),
    row(['audit entries (chained)', number(f.auditEntries)]),
    row(['logout outbox rows, replay-cache entries, risk baselines', `${number(f.logoutOutbox)}, ${number(f.replayEntries)}, ${number(f.riskBaselines)}`]),
    row(['database size', `${number(f.databaseMiB)} MiB`]),
    row(['seeding: provisioning and history', `${number(seeding.provisionAndHistorySeconds, 1)} s`]),
    row(['seeding: history continued to "now" before each server start', seeding.advanceSeconds.map((s) => `${number(s, 1)} s`).join(', ') || '–']),
    row([
      '`tessera audit verify` on the copy',
      seeding.auditVerifySeconds === undefined ? 'not run' : `${seeding.auditVerified ?? ''} (${number(seeding.auditVerifySeconds, 1)} s)`,
    ]),
  ];
  return lines.join('\n');
}

/** Statements run at least this often per sign-on belong to the sign-on path (the two traced flows share the count). */
export const SIGN_ON_PATH_SHARE = 0.3;

export function renderPlans(plans: readonly StatementPlan[]): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const table = (rows: readonly StatementPlan[]) => {
    const lines = [row(['prepared at', 'runs per sign-on', 'statement', 'query plan', 'verdict']), row(['---', '---:', '---', '---', '---'])];
    for (const plan of rows) {
      lines.push(
        row([
          plan.preparedAt,
          number(plan.perSignOn, 2),
          `\`${cell(plan.sql.length > 160 ? `${plan.sql.slice(0, 157)}…` : plan.sql)}\``,
          cell(plan.plan.map((step) => step.trim()).join('; ') || (plan.detail ?? '')),
          plan.verdict === 'scan' ? `**scan** (${cell(plan.detail ?? '')})` : plan.verdict,
        ]),
      );
    }
    return lines.join('\n');
  };
  const path = plans.filter((p) => p.perSignOn >= SIGN_ON_PATH_SHARE || p.preparedAt.startsWith('trigger'));
  const rest = plans.filter((p) => !path.includes(p));
  return `Run by the sign-on path:\n\n${table(path)}\n\nAlso run in the workers during the trace (start-up, background jobs):\n\n${table(rest)}`;
}

export function renderTargets(targets: readonly Target[]): string {
  const lines = [row(['target (issue 6)', 'required', 'measured', 'met']), row(['---', '---', '---', '---'])];
  for (const t of targets) lines.push(row([t.name, t.target, t.measured, t.met === undefined ? 'not measured' : t.met ? 'yes' : '**no**']));
  return lines.join('\n');
}
