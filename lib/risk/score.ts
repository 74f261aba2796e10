import { gapSeconds, hourActivity, scopeSetKey, type AgentBaseline, type RiskEvent } from './baseline.js';

export type RiskSignal = 'new_network' | 'rate' | 'new_sp' | 'sp_outside_roles' | 'new_scope' | 'new_scope_set' | 'unusual_hour';

/** One reason the score is what it is: a signal, its weight, and a sentence for the audit log. */
export interface RiskContribution {
  readonly signal: RiskSignal;
  readonly weight: number;
  readonly explanation: string;
}

export interface RiskAssessment {
  /** In [0, 1]: 1 − Π(1 − weight) over the contributions. */
  readonly score: number;
  readonly contributions: readonly RiskContribution[];
  /** false while the baseline is too young to judge from (the score is then 0). */
  readonly mature: boolean;
}

/**
 * Until the baseline holds this many events over at least a day, nothing is new or
 * unusual yet: the agent is still being learnt (a day, so every active hour was seen).
 */
export const MATURE_AFTER_EVENTS = 20;
export const MATURE_AFTER_MS = 24 * 3_600_000;
const RATE_MIN_GAPS = 10;
/** Log-gap spread is never taken as tighter than this (about ×1.5), so a very regular agent is not flagged for jitter. */
const GAP_SD_FLOOR = 0.4;
const RATE_Z_START = 4;

export const NO_RISK: RiskAssessment = { score: 0, contributions: [], mature: false };

/**
 * Scores an event against the agent's baseline and the SPs its roles use. Pure:
 * the same code runs at sign-on and in the evaluation harness.
 */
export function assessRisk(baseline: AgentBaseline, spUsedByRoles: boolean, event: RiskEvent): RiskAssessment {
  if (baseline.n < MATURE_AFTER_EVENTS || event.at.getTime() - (baseline.firstAt ?? event.at.getTime()) < MATURE_AFTER_MS) return NO_RISK;
  const contributions: RiskContribution[] = [];
  const add = (signal: RiskSignal, weight: number, explanation: string) => contributions.push({ signal, weight, explanation });

  if (!(event.network in baseline.networks)) add('new_network', 0.55, `new source network ${event.network}`);

  const rate = rateSurprise(baseline, event.at);
  if (rate && rate.z >= RATE_Z_START) {
    add('rate', Math.min(0.99, 0.45 + 0.1 * (rate.z - RATE_Z_START)), `rate ${rate.ratio.toFixed(0)}× baseline, ${rate.z.toFixed(1)}σ above it`);
  }

  if (!(event.spEntityId in baseline.sps)) {
    if (spUsedByRoles) add('new_sp', 0.1, 'SP new to this agent but used by its roles');
    else add('sp_outside_roles', 0.55, 'SP never used by this agent or its roles');
  }

  const unseen = event.scopes.filter((scope) => !(scope in baseline.scopes));
  if (unseen.length > 0) add('new_scope', 0.55, `scope never requested: ${unseen.join(', ')}`);
  else if (!(scopeSetKey(event.scopes) in baseline.scopeSets)) add('new_scope_set', 0.15, 'scope set never requested');

  const activity = hourActivity(baseline, event.at);
  if (activity < 0.05) add('unusual_hour', 0.55, `outside active hours (${(activity * 100).toFixed(0)}% of average activity at ${event.at.getUTCHours()}h UTC)`);
  else if (activity < 0.15) add('unusual_hour', 0.2, `at the edge of active hours (${(activity * 100).toFixed(0)}% of average activity)`);

  const score = 1 - contributions.reduce((keep, c) => keep * (1 - c.weight), 1);
  return { score, contributions, mature: true };
}

/**
 * How far the recent pace is above the learnt one: the longer of the last two gaps
 * (two short gaps in a row, so one coincidence is not a burst), in σ of log gaps.
 */
function rateSurprise(baseline: AgentBaseline, at: Date): { z: number; ratio: number } | undefined {
  if (baseline.gapN < RATE_MIN_GAPS) return undefined;
  const gap = gapSeconds(baseline, at);
  if (gap === undefined || baseline.lastGapSeconds === undefined) return undefined;
  const recent = Math.log(Math.max(gap, baseline.lastGapSeconds));
  const sd = Math.max(Math.sqrt(baseline.gapVar), GAP_SD_FLOOR);
  const z = (baseline.gapMean - recent) / sd;
  return { z, ratio: Math.exp(baseline.gapMean - recent) };
}
