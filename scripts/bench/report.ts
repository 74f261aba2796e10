import type { Baseline } from './baselines.js';
import type { LoadResult } from './load.js';

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
  /** Set when the load was held at this rate: throughput ratios then say nothing. */
  readonly fixedRate?: number;
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
  readonly met: boolean;
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
  readonly scale: { readonly agents: number; readonly storedSessions: number; readonly referenceSessions: number } | undefined;
  readonly targets: readonly Target[];
}

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function renderTable(report: BenchReport): string {
  const raw = report.baselines.rawSign!.opsPerSecond;
  const samlify = report.baselines.samlify!.opsPerSecond;
  const lines: string[] = [];
  lines.push(
    row(['scenario', 'workers', 'responses/s', 'per core', 'p50 ms', 'p99 ms', 'server CPU µs/response', '× raw-sign limit (per core)', '× samlify (per core)', 'non-2xx']),
  );
  lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const scenario of report.scenarios) {
    const perCore = scenario.load.rps / scenario.workers;
    lines.push(
      row([
        scenario.label,
        String(scenario.workers),
        number(scenario.load.rps),
        number(perCore),
        number(scenario.load.latencyMs.p50),
        number(scenario.load.latencyMs.p99),
        number(scenario.serverCpuMicrosPerResponse),
        scenario.fixedRate === undefined ? number(perCore / raw, 2) : '(held rate)',
        scenario.fixedRate === undefined ? number(perCore / samlify, 2) : '(held rate)',
        String(scenario.load.non2xx + scenario.load.errors + scenario.load.timeouts),
      ]),
    );
  }
  for (const baseline of Object.values(report.baselines)) {
    lines.push(
      row([
        `baseline, in-process: ${baseline.name}`,
        '1',
        number(baseline.opsPerSecond),
        number(baseline.opsPerSecond),
        '',
        '',
        number(1e6 / baseline.opsPerSecond),
        number(baseline.opsPerSecond / raw, 2),
        number(baseline.opsPerSecond / samlify, 2),
        '',
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

export function renderTargets(targets: readonly Target[]): string {
  const lines = [row(['target (issue 6)', 'required', 'measured', 'met']), row(['---', '---', '---', '---'])];
  for (const t of targets) lines.push(row([t.name, t.target, t.measured, t.met ? 'yes' : '**no**']));
  return lines.join('\n');
}
