import type { Baseline, RatioBaselines } from './baselines.js';
import type { DeprovisionTrial, ScenarioFigure, Target } from './report.js';

/*
 * The "done when" list of issue 6, checked against what this run measured.
 * A figure the run did not measure (--only) is reported as such, never as met.
 */

/** The mean of a figure over runs: throughput unless another is picked. */
export const mean = (figures: readonly ScenarioFigure[], pick: (figure: ScenarioFigure) => number = (figure) => figure.load.rps): number =>
  figures.reduce((sum, figure) => sum + pick(figure), 0) / Math.max(1, figures.length);

const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function checkTargets(input: {
  rawSign: Baseline | undefined;
  rawSignTwoCores: Baseline | undefined;
  /** One signature's cost back to back and with the CPU idle between signatures (baselines.ts pacedSignCost). */
  signCost: { readonly backToBack: Baseline; readonly paced: Baseline } | undefined;
  samlify: Baseline | undefined;
  deprovision: readonly DeprovisionTrial[];
  /** Two workers, about 100 stored sessions. */
  reference: readonly ScenarioFigure[];
  /** Two workers on the fleet-scale copy. */
  scaled: readonly ScenarioFigure[];
  oneCore: readonly ScenarioFigure[];
  /** Raw signing and samlify on the server's CPU just before each one-core round, in round order (or none). */
  oneCoreBaselines: readonly RatioBaselines[];
  heldRate: ScenarioFigure | undefined;
  /** HTTPS + mTLS + the RSA signature alone, on the same CPU (ceiling-server.ts), one per one-core round. */
  ceilings: readonly ScenarioFigure[];
  /** The same ceiling on two workers, unpinned, one per two-worker round. */
  twoWorkerCeilings: readonly ScenarioFigure[];
  /** The two-worker ceiling at the held rate of the latency target. */
  heldCeiling: ScenarioFigure | undefined;
  storedSessions: number | undefined;
  /** The machine's CPUs, which the load generator shares with the server. */
  machineCpus: number;
}): Target[] {
  const twoCore = input.reference.length > 0 ? mean(input.reference) : undefined;
  const perCore = input.oneCore.length > 0 ? mean(input.oneCore) : undefined;
  const raw = input.rawSign?.opsPerSecond;
  const samlify = input.samlify?.opsPerSecond;
  const unmeasured = (name: string, target: string): Target => ({ name, target, measured: 'not measured in this run', met: undefined });
  const targets: Target[] = [];

  const oneCoreName = 'IdP-initiated responses/s on one core (1 worker pinned to 1 CPU, load generator on the other)';
  const ceilingRatio = perRoundRatio(input.oneCore, input.ceilings.map((ceiling) => ceiling.load.rps));
  const ofCeiling = ceilingRatio ? ` (${f(ceilingRatio.mean, 2)} of the same CPU's ceiling measured in the same round: ${ceilingRatio.detail})` : '';
  targets.push(
    perCore === undefined ? unmeasured(oneCoreName, '≥ 1,500') : { name: oneCoreName, target: '≥ 1,500', measured: `${f(perCore)}${ofCeiling}`, met: perCore >= 1_500 },
  );
  // Each round against the baseline measured on its CPU just before it; the start-of-run figure is shown beside.
  const against = (name: string, target: string, minimum: number, unit: string, adjacent: readonly number[], start: number | undefined, what: string): Target => {
    const ratio = perRoundRatio(input.oneCore, adjacent);
    if (perCore === undefined || (ratio === undefined && start === undefined)) return unmeasured(name, target);
    const atStart = start === undefined ? '' : `against the start of the run (${what} ${f(start)}/s): ${f(perCore / start, 2)}${unit}`;
    if (ratio === undefined) return { name, target, measured: atStart, met: perCore / start! >= minimum };
    return {
      name,
      target,
      measured: `${f(ratio.mean, 2)}${unit}, mean of rounds against ${what} on the server's CPU just before each (${ratio.detail})${atStart ? `; ${atStart}` : ''}`,
      met: ratio.mean >= minimum,
    };
  };
  targets.push(against('one core against the raw-signing limit', '≥ 0.38', 0.38, '', input.oneCoreBaselines.map((b) => b.rawSign.opsPerSecond), raw, 'raw RSA-2048'));
  targets.push(against('one core against samlify createLoginResponse', '≥ 3.7×', 3.7, '×', input.oneCoreBaselines.map((b) => b.samlify.opsPerSecond), samlify, 'samlify'));
  const twoName = 'two cores (2 workers) against one';
  const rawScaling = input.rawSign && input.rawSignTwoCores ? `; raw RSA on two threads at once: ${f(input.rawSignTwoCores.opsPerSecond / input.rawSign.opsPerSecond, 2)}×` : '';
  // What the machine allows any server that signs over HTTPS, with the load generator on the same CPUs.
  const ceilingScaling =
    input.twoWorkerCeilings.length > 0 && input.ceilings.length > 0
      ? `; the ceiling server (mTLS and the signature, no IdP logic) on two workers against one pinned CPU, same rounds: ${f(mean(input.twoWorkerCeilings) / mean(input.ceilings), 2)}× (${f(mean(input.twoWorkerCeilings))}/s against ${f(mean(input.ceilings))}/s)`
      : '';
  targets.push(
    twoCore === undefined || perCore === undefined
      ? unmeasured(twoName, '≥ 1.8×')
      : {
          name: twoName,
          target: '≥ 1.8×',
          measured: `${f(twoCore / perCore, 2)}× (${f(twoCore)}/s, ${f(twoCore / 2)}/s per core, against ${f(perCore)}/s)${rawScaling}${ceilingScaling}${cpuLeftToServer(input.reference, input.oneCore, perCore, input.machineCpus)}`,
          met: twoCore / perCore >= 1.8,
        },
  );
  const heldName = 'p99 latency at 1,000 sign-ons/s (open loop, from the due time)';
  const heldRate = input.heldRate;
  const held = heldRate?.load;
  const handling = heldRate?.serverHandlingMs;
  targets.push(
    heldRate === undefined || held === undefined
      ? unmeasured(heldName, '< 25 ms')
      : {
          name: heldName,
          target: '< 25 ms',
          measured:
            `${f(held.latencyMs.p99, 1)} ms (${f(held.rps)}/s achieved${held.timeouts > 0 ? `, ${f(held.timeouts)} abandoned` : ''})` +
            (held.generatorLagMs ? `; of it, the generator's own lateness in sending: p99 ${f(held.generatorLagMs.p99, 1)} ms` : '') +
            (handling
              ? `; the IdP's own handling (its log, from its handler's start): p99 ${f(handling.p99, 1)} ms, ` +
                `its workers answering ${handling.perWorker.map((n) => `${f((100 * n) / handling.answers)} %`).join(' / ')}`
              : '') +
            `; the machine was ${f(heldRate.machineBusyShare * 100)} % busy` +
            (input.signCost
              ? `; one RSA signature took ${f(1e6 / input.signCost.paced.opsPerSecond)} µs inside the call with the CPU idle between signatures ` +
                `against ${f(1e6 / input.signCost.backToBack.opsPerSecond)} µs back to back`
              : '') +
            (input.heldCeiling
              ? `; the ceiling server on two workers at the same rate: ${f(input.heldCeiling.load.latencyMs.p99, 1)} ms, the machine ${f(input.heldCeiling.machineBusyShare * 100)} % busy`
              : ''),
          // Open loop: every request was sent on time, so the rate was held if every one was answered with a 2xx.
          met: held.latencyMs.p99 < 25 && held.timeouts + held.errors + held.non2xx === 0,
        },
  );
  const deprovisionName = 'deprovisioning an agent with 1,000 live sessions';
  if (input.deprovision.length === 0) targets.push(unmeasured(deprovisionName, '< 50 ms, next sign-on refused'));
  else {
    const worst = Math.max(...input.deprovision.map((t) => t.milliseconds));
    targets.push({
      name: deprovisionName,
      target: '< 50 ms, next sign-on refused',
      measured: `${f(worst, 1)} ms worst of ${input.deprovision.length}; next sign-on ${input.deprovision.map((t) => t.nextSignOnStatus).join('/')}`,
      met: worst < 50 && input.deprovision.every((t) => t.liveSessionsBefore >= 1_000 && t.nextSignOnStatus !== 200 && t.liveSessionsAfter === 0),
    });
  }
  const scaleName = `throughput with ${input.storedSessions === undefined ? 'fleet-scale' : f(input.storedSessions)} stored sessions against 100`;
  if (input.scaled.length === 0 || twoCore === undefined) targets.push(unmeasured(scaleName, 'within 10 %'));
  else {
    const ratio = mean(input.scaled) / twoCore;
    targets.push({
      name: scaleName,
      target: 'within 10 %',
      measured: `${ratio >= 1 ? '+' : ''}${f(ratio * 100 - 100, 1)} % (${f(mean(input.scaled))}/s against ${f(twoCore)}/s, 2 workers, mean of ${input.scaled.length} alternating rounds)`,
      met: ratio >= 0.9,
    });
  }
  return targets;
}

/**
 * The generator runs on the same CPUs as the server: in the two-worker rounds it takes
 * CPU that the one-core rounds (generator on the other CPU) never charge to the server.
 * What is left, spent at the one-core rounds' server CPU per sign-on, bounds what two
 * workers could answer however well they scaled.
 */
// Called only when both kinds of round were measured (the target is otherwise reported unmeasured).
function cpuLeftToServer(twoWorker: readonly ScenarioFigure[], oneCore: readonly ScenarioFigure[], perCore: number, machineCpus: number): string {
  const generatorCpus = mean(twoWorker, (run) => run.generatorMachineShare) * machineCpus;
  const oneCoreMicros = mean(oneCore, (run) => run.serverCpuMicrosPerResponse);
  const bound = ((machineCpus - generatorCpus) * 1e6) / oneCoreMicros;
  return (
    `; the load generator took ${f(generatorCpus, 2)} of the ${machineCpus} CPUs in the two-worker rounds: ` +
    `at the one-core rounds' ${f(oneCoreMicros)} µs of server CPU per sign-on, the rest allows at most ${f(bound)}/s, ${f(bound / perCore, 2)}× one core`
  );
}

/** Each round's throughput over the figure measured with it (same index); undefined unless every round has one. */
function perRoundRatio(rounds: readonly ScenarioFigure[], against: readonly number[]): { mean: number; detail: string } | undefined {
  if (rounds.length === 0 || against.length !== rounds.length) return undefined;
  const ratios = rounds.map((round, i) => round.load.rps / against[i]!);
  return {
    mean: ratios.reduce((sum, r) => sum + r, 0) / ratios.length,
    detail: rounds.map((round, i) => `${f(round.load.rps)}/${f(against[i]!)} = ${f(ratios[i]!, 2)}`).join(', '),
  };
}
