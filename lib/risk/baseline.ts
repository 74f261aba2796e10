/**
 * How one agent normally behaves, as streaming statistics: every update is O(1)
 * (fixed-size histograms, bounded sets, exponentially weighted moments), so the
 * baseline is one small row read and written per sign-on.
 *
 * - rate: EWMA mean and variance of log inter-arrival gaps (seconds). Gaps longer
 *   than IDLE_GAP_SECONDS (nights, weekends) are not learnt: they say when the agent
 *   sleeps, not how fast it works.
 * - active hours: a 24-bin UTC hour histogram, decayed a little at every event so
 *   it follows a shifting schedule.
 * - source networks, SPs, scopes and scope sets: bounded maps of what was seen,
 *   to when; the least recently seen entry is forgotten when a map is full.
 */
export interface AgentBaseline {
  readonly version: 1;
  /** Events learnt, and when the first was (ms). */
  n: number;
  firstAt: number | undefined;
  /** When the last learnt event happened (ms), and the gap before it (s). */
  lastAt: number | undefined;
  lastGapSeconds: number | undefined;
  /** Gaps learnt, and their log moments. */
  gapN: number;
  gapMean: number;
  gapVar: number;
  hours: number[];
  networks: Record<string, number>;
  sps: Record<string, number>;
  scopes: Record<string, number>;
  scopeSets: Record<string, number>;
}

/** One sign-on as the risk model sees it. */
export interface RiskEvent {
  readonly at: Date;
  readonly spEntityId: string;
  /** The source network: an IPv4 /24 or IPv6 /48 (see sourceNetwork). */
  readonly network: string;
  readonly scopes: readonly string[];
}

export const IDLE_GAP_SECONDS = 4 * 3600;
const GAP_ALPHA = 0.05;
const HOUR_DECAY = 0.998;
const MAX_NETWORKS = 32;
const MAX_SPS = 64;
const MAX_SCOPES = 64;
const MAX_SCOPE_SETS = 64;

export function emptyBaseline(): AgentBaseline {
  return {
    version: 1,
    n: 0,
    firstAt: undefined,
    lastAt: undefined,
    lastGapSeconds: undefined,
    gapN: 0,
    gapMean: 0,
    gapVar: 0,
    hours: new Array<number>(24).fill(0),
    networks: {},
    sps: {},
    scopes: {},
    scopeSets: {},
  };
}

/** A scope set's identity: its members, sorted and de-duplicated. */
export function scopeSetKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/** The gap before `at` in seconds (at least 1 s, so log is defined); undefined for the first event. */
export function gapSeconds(baseline: AgentBaseline, at: Date): number | undefined {
  if (baseline.lastAt === undefined) return undefined;
  return Math.max(1, (at.getTime() - baseline.lastAt) / 1000);
}

/** Learns one allowed event, in place. */
export function observe(baseline: AgentBaseline, event: RiskEvent): void {
  const at = event.at.getTime();
  const gap = gapSeconds(baseline, event.at);
  if (gap !== undefined && gap < IDLE_GAP_SECONDS) {
    const x = Math.log(gap);
    if (baseline.gapN === 0) {
      baseline.gapMean = x;
      baseline.gapVar = 0;
    } else {
      // Huber-style clipping: one odd gap moves the baseline by a bounded amount.
      const sd = Math.sqrt(baseline.gapVar);
      const clipped = baseline.gapN < 10 ? x : Math.min(Math.max(x, baseline.gapMean - 3 * sd), baseline.gapMean + 3 * sd);
      const alpha = Math.max(GAP_ALPHA, 1 / (baseline.gapN + 1));
      const delta = clipped - baseline.gapMean;
      baseline.gapMean = round6(baseline.gapMean + alpha * delta);
      baseline.gapVar = round6((1 - alpha) * (baseline.gapVar + alpha * delta * delta));
    }
    baseline.gapN += 1;
  }
  baseline.lastGapSeconds = gap;
  baseline.firstAt ??= at;
  baseline.lastAt = Math.max(at, baseline.lastAt ?? at);
  const hour = event.at.getUTCHours();
  // Three decimals are plenty for a histogram and keep the stored row small (it is parsed and written per sign-on).
  for (let h = 0; h < 24; h++) baseline.hours[h] = Math.round(baseline.hours[h]! * HOUR_DECAY * 1000) / 1000;
  baseline.hours[hour] = baseline.hours[hour]! + 1;
  remember(baseline.networks, event.network, at, MAX_NETWORKS);
  remember(baseline.sps, event.spEntityId, at, MAX_SPS);
  for (const scope of event.scopes) remember(baseline.scopes, scope, at, MAX_SCOPES);
  remember(baseline.scopeSets, scopeSetKey(event.scopes), at, MAX_SCOPE_SETS);
  baseline.n += 1;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Bounded map: a full map forgets its least recently seen key (a scan of at most `max` entries). */
function remember(map: Record<string, number>, key: string, at: number, max: number): void {
  if (!(key in map)) {
    const keys = Object.keys(map);
    if (keys.length >= max) {
      let oldest = keys[0]!;
      for (const k of keys) if (map[k]! < map[oldest]!) oldest = k;
      delete map[oldest];
    }
  }
  map[key] = at;
}

/** The share of learnt activity in this hour and its neighbours, relative to a flat day (1 = average). */
export function hourActivity(baseline: AgentBaseline, at: Date): number {
  const h = at.getUTCHours();
  const total = baseline.hours.reduce((sum, count) => sum + count, 0);
  if (total === 0) return 1;
  const local = baseline.hours[(h + 23) % 24]! + baseline.hours[h]! + baseline.hours[(h + 1) % 24]!;
  return local / 3 / (total / 24);
}

/** The source network an address belongs to: IPv4 /24, IPv6 /48. */
export function sourceNetwork(address: string): string {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(address);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (address.includes(':')) {
    const groups = expandIpv6(address);
    if (groups) return `${groups.slice(0, 3).join(':')}::/48`;
  }
  return address;
}

function expandIpv6(address: string): string[] | undefined {
  const [head, tail, ...rest] = address.split('::');
  if (rest.length > 0) return undefined;
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...new Array<string>(missing).fill('0'), ...right].map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''));
}
