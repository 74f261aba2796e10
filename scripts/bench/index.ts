#!/usr/bin/env node
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir, availableParallelism, release } from 'node:os';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../../lib/common/clock.js';
import { generateSelfSigned, loadOrCreateIdpKeys, readKeyEncryptionKey } from '../../lib/keys/index.js';
import { openSqliteStore } from '../../lib/store/index.js';
import { runBaselines, runRatioBaselines, runStorageBaselines, signOnShape, type Baseline, type RatioBaselines } from './baselines.js';
import { ecCredential, rsaCredential, spMetadata, type BenchSp } from './fixtures.js';
import { runLoad, type LoadRequest, type LoadResult } from './load.js';
import { runSteady } from './steady.js';
import {
  inParallel,
  HttpsClient,
  machineBusyShare,
  machineCpuTicks,
  pinThisProcess,
  processTreeCpuSeconds,
  startCeilingServer,
  startServer,
  tessera,
  type RunningServer,
} from './server.js';
import { Orchestrator } from './orchestrator.js';
import { cycling, idpInitiated, spInitiatedPool, IDP_INITIATED_PATH, type JwtAgent } from './workloads.js';
import { logOffset, serverHandling } from './server-log.js';
import { deprovisionTrials } from './deprovision.js';
import { scimListTrials, type ScimListFigure } from './scim-lists.js';
import { FleetHistoryThread } from './fleet-thread.js';
import { collectGarbage } from './heap.js';
import { explainStatements, readTrace, type StatementPlan } from './plans.js';
import { checkTargets, mean } from './targets.js';
import {
  renderDeprovision,
  renderPlans,
  renderScimLists,
  renderSeeding,
  renderTable,
  renderTargets,
  type BenchReport,
  type DeprovisionTrial,
  type ScenarioFigure,
  type SeedingFigures,
} from './report.js';

/*
 * `npm run bench`: sign-on throughput and latency of the IdP as an operator
 * runs it, against the limits that matter (the raw RSA operation, samlify),
 * in one run on this machine. See README "Performance".
 */

const PARTS = ['baselines', 'idp-2w', 'idp-1w', 'scale', 'sp-jwt', 'both-signed', 'held', 'deprovision', 'plans', 'scim-lists'] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--only PART[,PART…]] [--rounds N] [--duration SECONDS] [--out FILE]
                     [--scale-agents N] [--scale-sessions N] [--live-share PERCENT] [--profile [--profile-dir DIR]]
                     [--skip-audit-verify] [--keep-data]

  --quick           5 s runs, 2,000 agents and 20,000 stored sessions (a few minutes in all)
  --only PARTS      run only these parts (comma-separated): ${PARTS.join(', ')}
                    (set-up always runs; "scale", "plans" and "scim-lists" grow the fleet-scale copy first)
  --rounds N        alternating rounds of idp-2w / scale / idp-1w (default 2)
  --profile         start every server with --cpu-prof; profiles go to --profile-dir
                    (default ./bench-profiles/<time>), one folder per server start
  --skip-audit-verify  do not run \`tessera audit verify\` on the fleet-scale copy (about 1 min at full scale)
  --keep-data       keep the data directories (printed at the end)`;

interface Options {
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly out: string;
  readonly scaleAgents: number;
  readonly scaleSessions: number;
  readonly liveShare: number;
  readonly rounds: number;
  readonly only: ReadonlySet<Part>;
  readonly profileDir: string | undefined;
  readonly keepData: boolean;
  readonly verifyAudit: boolean;
  readonly baselineRoundMs: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      out: { type: 'string', default: 'bench-results.json' },
      'scale-agents': { type: 'string' },
      'scale-sessions': { type: 'string' },
      'live-share': { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-dir': { type: 'string' },
      'keep-data': { type: 'boolean', default: false },
      'skip-audit-verify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = values.quick;
  const positive = (raw: string | undefined, fallback: number, name: string): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const only = new Set<Part>();
  for (const name of (values.only ?? PARTS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PARTS as readonly string[]).includes(name)) throw new Error(`--only: unknown part "${name}" (parts: ${PARTS.join(', ')})`);
    only.add(name as Part);
  }
  const liveShare = values['live-share'] === undefined ? 2 : Number(values['live-share']);
  if (!(liveShare > 0 && liveShare <= 50)) throw new Error('--live-share must be a percentage above 0 and at most 50');
  if (values['profile-dir'] !== undefined && !values.profile) throw new Error('--profile-dir needs --profile');
  return {
    quick,
    durationSeconds: positive(values.duration, quick ? 5 : 20, 'duration'),
    warmupSeconds: quick ? 2 : 5,
    out: path.resolve(values.out),
    scaleAgents: positive(values['scale-agents'], quick ? 2_000 : 100_000, 'scale-agents'),
    scaleSessions: positive(values['scale-sessions'], quick ? 20_000 : 1_000_000, 'scale-sessions'),
    liveShare: liveShare / 100,
    rounds: positive(values.rounds, 2, 'rounds'),
    only,
    profileDir: values.profile
      ? path.resolve(values['profile-dir'] ?? path.join('bench-profiles', new Date().toISOString().replace(/[:.]/g, '-')))
      : undefined,
    keepData: values['keep-data'],
    verifyAudit: !values['skip-audit-verify'],
    baselineRoundMs: quick ? 300 : 1_000,
  };
}

const started = Date.now();
function progress(line: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds}s] ${line}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Share of the machine's CPU time busy over `ms` (from /proc/stat): what else runs here besides the bench. */
async function machineBusy(ms: number): Promise<number> {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  return 1 - (after.idle - before.idle) / Math.max(1, after.total - before.total);
}

const TRACE_MODULE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'sql-trace.js')).href;

/** Servers this run started, stopped whatever happens to the run. */
const servers = new Set<RunningServer>();
let serverStarts = 0;

async function launch(options: {
  dataDir: string;
  port: number;
  workers: number;
  name: string;
  profileDir: string | undefined;
  trace?: string;
  cpus?: string;
}): Promise<RunningServer> {
  serverStarts += 1;
  const nodeArgs: string[] = [];
  if (options.profileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.join(options.profileDir, `${String(serverStarts).padStart(2, '0')}-${options.name}`)}`);
  if (options.trace) nodeArgs.push('--import', TRACE_MODULE);
  const server = await startServer({
    dataDir: options.dataDir,
    port: options.port,
    workers: options.workers,
    nodeArgs,
    ...(options.trace ? { env: { TESSERA_BENCH_SQL_TRACE_DIR: options.trace } } : {}),
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
  });
  servers.add(server);
  return {
    ...server,
    stop: async () => {
      servers.delete(server);
      await server.stop();
    },
  };
}

/** Keep-alive connections per run: a fleet's agents sign on concurrently, and each sign-on waits for a WAL sync. */
const CONNECTIONS = 64;

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const want = (part: Part) => opts.only.has(part);
  const root = mkdtempSync(path.join(tmpdir(), 'tessera-bench-'));
  // One set-up, three copies: the IdP most scenarios run on, a pristine one for the
  // reference runs (about 100 stored sessions), and one grown to fleet scale.
  const mainDir = path.join(root, 'main');
  const smallDir = path.join(root, 'small');
  const scaleDir = path.join(root, 'scale');
  const notes: string[] = [];
  const scenarios: ScenarioFigure[] = [];
  progress(`Tessera sign-on benchmark${opts.quick ? ' (quick)' : ''}: data directories under ${root}`);
  if (opts.only.size < PARTS.length) progress(`only: ${[...opts.only].join(', ')}`);
  progress(`machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load generator and server share these CPUs`);
  const busyBefore = await machineBusy(3_000);
  progress(`CPU busy with other work before the run: ${(busyBefore * 100).toFixed(0)} %`);

  const port = await freePort();
  const start = (dataDir: string, workers: number, name: string, trace?: string, cpus?: string) =>
    launch({ dataDir, port, workers, name, profileDir: opts.profileDir, ...(trace ? { trace } : {}), ...(cpus !== undefined ? { cpus } : {}) });
  let server = await start(mainDir, 2, 'set-up');
  progress(`IdP started: ${server.baseUrl}, 2 workers`);
  const token = (await tessera(mainDir, ['token', 'create', 'bench'])).trim();
  const assertionSignedSp = spMetadata('sp-assertion-signed');
  const bothSignedSp = spMetadata('sp-both-signed');
  for (const [sp, flags] of [
    [assertionSignedSp, ['--no-sign-response']],
    [bothSignedSp, []],
  ] as const) {
    const file = path.join(root, `${sp.entityId.split('/')[2]}.xml`);
    writeFileSync(file, sp.metadataXml);
    await tessera(mainDir, ['sp', 'register', file, ...flags]);
  }
  const audiences = [assertionSignedSp.entityId, bothSignedSp.entityId];

  let orchestrator = new Orchestrator(new HttpsClient(server), token);
  const mtlsAgent = await orchestrator.provision('bench-mtls-agent', await rsaCredential('bench-mtls-agent'));
  // About 100 sessions: one per task, refreshed by the agent's later sign-ons with that task.
  const mtlsTasks = await inParallel(Array.from({ length: 100 }), 8, () => orchestrator.openTask(mtlsAgent.userName, audiences));
  const jwtAgents: JwtAgent[] = [];
  for (let i = 0; i < 8; i++) {
    const userName = `bench-jwt-agent-${i}`;
    const agent = await orchestrator.provision(userName, await ecCredential(userName));
    jwtAgents.push({ agent, tasks: await inParallel(Array.from({ length: 25 }), 8, () => orchestrator.openTask(userName, audiences)) });
  }
  progress(`provisioned 1 mTLS agent (100 tasks) and ${jwtAgents.length} JWT agents (ES256, 25 tasks each)`);
  orchestrator.client.close();
  await server.stop();
  for (const copy of [smallDir, scaleDir]) cpSync(mainDir, copy, { recursive: true });

  // Baselines, with the IdP's own signing key, while no server runs.
  const idpKeys = await (async () => {
    const store = openSqliteStore(mainDir);
    try {
      return await loadOrCreateIdpKeys({
        keys: store.keys,
        kek: readKeyEncryptionKey({ masterKey: process.env.TESSERA_MASTER_KEY || undefined, dataDir: mainDir }),
        clock: systemClock,
        tlsNames: ['localhost'],
      });
    } finally {
      store.close();
    }
  })();
  const issuer = `https://localhost:${port}/saml/metadata`;
  let baselines: Record<string, Baseline> = {};
  if (want('baselines')) {
    const signing = await runBaselines(idpKeys.signing, issuer, assertionSignedSp, opts.baselineRoundMs, progress);
    const scratch = path.join(root, 'storage-baseline');
    const storage = await runStorageBaselines(scratch, opts.baselineRoundMs, progress).finally(() => rmSync(scratch, { recursive: true, force: true }));
    baselines = { ...signing, ...storage };
  }

  // Growing the fleet-scale copy leaves gigabytes of dirty pages that the kernel writes back on
  // its own schedule, on the disk and CPUs the measured runs use: they are flushed before anything
  // is measured. (Two runs without this saw their first two-worker round at 1,397 and 1,643/s,
  // 1,140 and 988 µs of server CPU per sign-on, against 2,277 and 2,198/s a round later. The
  // writeback was a suspect; --trace-gc later showed this process's own garbage collection in that
  // round, which settleHeap below now does beforehand. The sync stays: it costs ~0.1–1 s.)
  const settleDisk = (what: string): void => {
    const t0 = performance.now();
    execFileSync('sync');
    progress(`written back to disk: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  };
  // This process is also the load generator, and an open-loop generator charges its own pauses to
  // the server. So its garbage is collected before every measured run, not by V8 during it. (When
  // the fleet history lived on this heap, the first round after its growth ran beside a 0.9 s
  // scavenge and a 1.0 s mark-compact, with --trace-gc; the history now has a thread and a heap of
  // its own, fleet-thread.ts.)
  const settleHeap = (what: string): void => {
    const heap = collectGarbage();
    progress(`garbage collected ${what}: heap ${heap.beforeMiB} → ${heap.afterMiB} MiB (${heap.seconds.toFixed(1)} s)`);
  };
  // The fleet-scale copy: grown once, then its history is continued to "now" before each server start on it.
  let fleet: FleetHistoryThread | undefined;
  let seeding: SeedingFigures | undefined;
  const advanceSeconds: number[] = [];
  const catchUpFleet = async (): Promise<void> => {
    const t0 = performance.now();
    await fleet!.advanceTo(new Date());
    advanceSeconds.push((performance.now() - t0) / 1000);
    settleDisk('the fleet-scale copy, continued to now');
  };
  if (want('scale') || want('plans') || want('scim-lists')) {
    progress(
      `--- growing a copy to fleet scale: ${opts.scaleAgents.toLocaleString('en-US')} agents, about ${opts.scaleSessions.toLocaleString('en-US')} stored sessions, ` +
        `${(opts.liveShare * 100).toFixed(1)} % of them live ---`,
    );
    const t0 = performance.now();
    fleet = await FleetHistoryThread.grow(scaleDir, {
      agents: opts.scaleAgents,
      sessions: opts.scaleSessions,
      liveShare: opts.liveShare,
      spEntityIds: audiences,
      orchestrator: 'bench',
      progress,
    });
    const provisionAndHistorySeconds = (performance.now() - t0) / 1000;
    const figures = await fleet.figures();
    progress(
      `fleet-scale copy: ${figures.agents.toLocaleString('en-US')} agents, ${figures.sessions.toLocaleString('en-US')} sessions ` +
        `(${figures.liveSessions.toLocaleString('en-US')} live, held by ${figures.agentsWithLiveSessions.toLocaleString('en-US')} agents), ` +
        `${figures.auditEntries.toLocaleString('en-US')} audit entries, ${figures.databaseMiB.toLocaleString('en-US')} MiB, in ${provisionAndHistorySeconds.toFixed(1)} s`,
    );
    let auditVerifySeconds: number | undefined;
    let verified: string | undefined;
    if (opts.verifyAudit) {
      // The operator's own check that the seeded audit trail is one intact chain (it fails the run if not).
      const v0 = performance.now();
      verified = (await tessera(scaleDir, ['audit', 'verify'])).trim().split('\n').pop() ?? '';
      auditVerifySeconds = (performance.now() - v0) / 1000;
      progress(`tessera audit verify on the fleet-scale copy (${auditVerifySeconds.toFixed(1)} s): ${verified}`);
    }
    settleDisk('the fleet-scale copy');
    seeding = { provisionAndHistorySeconds, advanceSeconds, auditVerifySeconds, auditVerified: verified, fleet: figures };
  }

  const measure = async (
    id: string,
    label: string,
    spec: {
      connections: number;
      overallRate?: number;
      next: () => LoadRequest;
      mtls: boolean;
      /** The requests' path as the IdP logs it: at a held rate, its own handling of them is read from its log. */
      loggedPath?: string;
    },
  ): Promise<ScenarioFigure> => {
    const common = {
      port: server.port,
      connections: spec.connections,
      next: spec.next,
      ...(spec.mtls ? { clientCertificate: { certPem: mtlsAgent.credential!.certPem, keyPem: mtlsAgent.credential!.keyPem } } : {}),
    };
    // At a held rate, an open-loop generator (steady.ts); otherwise autocannon as fast as the server answers.
    const run = (name: string, durationSeconds: number, report?: (line: string) => void): Promise<LoadResult> =>
      spec.overallRate === undefined
        ? runLoad({ ...common, name, durationSeconds, ...(report ? { progress: report } : {}) })
        : runSteady({ ...common, caPem: server.caPem, rate: spec.overallRate, name, durationSeconds, ...(report ? { progress: report } : {}) });
    // What the last run wrote (a fleet-scale round dirties pages all over a 4 GiB file) is written back
    // now rather than by the kernel during this run. The suspect, not a proven cause: in one run the
    // round after a fleet-scale round took 1,265 µs of server CPU per sign-on against 700 a round
    // earlier, with the machine 97 % busy and no collection of note in this process meanwhile.
    settleDisk(`before: ${label}`);
    settleHeap(`before: ${label}`);
    await run(`${label} (warm-up)`, opts.warmupSeconds);
    const serverBefore = processTreeCpuSeconds(server.pid);
    const generatorBefore = process.cpuUsage();
    const machineBefore = machineCpuTicks();
    // At a held rate, the IdP's log from here on holds its own account of the run's answers.
    // The warm-up's last few answers, logged as each is written, may land after this offset: a handful among thousands.
    const logged =
      spec.overallRate !== undefined && spec.loggedPath !== undefined && server.logPath !== undefined
        ? { file: server.logPath, path: spec.loggedPath, from: logOffset(server.logPath) }
        : undefined;
    const wallBefore = performance.now();
    const result = await run(label, opts.durationSeconds, progress);
    const wallSeconds = (performance.now() - wallBefore) / 1000;
    const serverSeconds = processTreeCpuSeconds(server.pid) - serverBefore;
    const generator = process.cpuUsage(generatorBefore);
    const machineBusy = machineBusyShare(machineBefore, machineCpuTicks());
    const generatorSeconds = (generator.user + generator.system) / 1e6;
    // Read after the CPU counters: parsing the log is the bench's work, not the generator's.
    const handling = logged ? serverHandling(logged.file, logged.from, logged.path) : undefined;
    const responses = Math.max(1, result.completed + result.non2xx);
    // All the machine's CPUs, also when this process is pinned to one of them (one-core rounds).
    const machineSeconds = wallSeconds * cpus().length;
    const figure: ScenarioFigure = {
      id,
      label,
      workers: server.workers,
      load: result,
      serverCpuMicrosPerResponse: (serverSeconds * 1e6) / responses,
      generatorCpuMicrosPerResponse: (generatorSeconds * 1e6) / responses,
      serverMachineShare: serverSeconds / machineSeconds,
      generatorMachineShare: generatorSeconds / machineSeconds,
      machineBusyShare: machineBusy,
      ...(spec.overallRate !== undefined ? { fixedRate: spec.overallRate } : {}),
      ...(handling ? { serverHandlingMs: handling } : {}),
    };
    progress(
      `${label}, ${server.workers} worker${server.workers === 1 ? '' : 's'}: ${Math.round(result.rps)} responses/s, p50 ${result.latencyMs.p50} ms, ` +
        `p99 ${result.latencyMs.p99} ms; CPU µs/response: server ${Math.round(figure.serverCpuMicrosPerResponse)}, ` +
        `load generator ${Math.round(figure.generatorCpuMicrosPerResponse)}; machine: server ${(figure.serverMachineShare * 100).toFixed(0)} %, ` +
        `load generator ${(figure.generatorMachineShare * 100).toFixed(0)} %, busy in all ${(machineBusy * 100).toFixed(0)} %; non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    );
    if (result.generatorLagMs || handling) {
      progress(
        `${label}: the generator sent each request late by p50 ${result.generatorLagMs?.p50 ?? '-'} ms, p99 ${result.generatorLagMs?.p99 ?? '-'} ms` +
          (handling
            ? `; the IdP's own handling (its log, handler start to answer written): p50 ${handling.p50} ms, p99 ${handling.p99} ms over ` +
              `${handling.answers.toLocaleString('en-US')} answers, per worker ${handling.perWorker.map((n) => n.toLocaleString('en-US')).join(' / ')}`
            : ''),
      );
    }
    if (result.non2xx + result.errors + result.timeouts > 0) {
      notes.push(`${label}: status codes ${JSON.stringify(result.statusCodes)}, errors ${result.errors}, timeouts ${result.timeouts}`);
    }
    scenarios.push(figure);
    return figure;
  };
  const switchTo = async (dataDir: string, workers: number, name: string, trace?: string, cpus?: string): Promise<void> => {
    server = await start(dataDir, workers, name, trace, cpus);
  };
  // "One core" is one CPU: the one-worker server (its GC and thread-pool threads too) runs on the
  // last CPU and the load generator on the others, so neither borrows the other's.
  const serverCpu = String(availableParallelism() - 1);
  const generatorCpus = availableParallelism() > 2 ? `0-${availableParallelism() - 2}` : '0';
  const idpLoad = (sp: BenchSp) => ({ connections: CONNECTIONS, next: idpInitiated(sp, mtlsTasks), mtls: true, loggedPath: IDP_INITIATED_PATH });
  const spLoad = async (expectedRps: number) => ({
    connections: CONNECTIONS,
    next: cycling(
      await spInitiatedPool(assertionSignedSp, server.baseUrl, jwtAgents, Math.ceil(expectedRps * 1.3 * (opts.durationSeconds + opts.warmupSeconds + 2))),
    ),
    mtls: false,
  });

  // On one pinned CPU, or unpinned with two workers as the IdP's two-worker rounds run.
  // Every ceiling server of the run (up to five) uses the same certificate and answer shape: made once.
  let ceilingMaterial: Promise<{ tls: Awaited<ReturnType<typeof generateSelfSigned>>; shape: ReturnType<typeof signOnShape> }> | undefined;
  const startCeiling = async (placement: { cpus: string } | { workers: number }): Promise<RunningServer> => {
    ceilingMaterial ??= generateSelfSigned({ commonName: 'localhost', subjectAltNames: ['localhost', '127.0.0.1'], validDays: 2, now: new Date() }).then((tls) => ({
      tls,
      shape: signOnShape(idpKeys.signing, issuer, assertionSignedSp),
    }));
    const { tls, shape } = await ceilingMaterial;
    const where = 'cpus' in placement ? `pinned to CPU ${placement.cpus}` : `${placement.workers} workers, unpinned`;
    progress(`starting the ceiling server, ${where} (answers of ${shape.answerBytes.toLocaleString('en-US')} bytes)`);
    return startCeilingServer({
      dir: path.join(root, 'ceiling'),
      ...('cpus' in placement ? { cpus: placement.cpus } : {}),
      spec: {
        ...('workers' in placement ? { workers: placement.workers } : {}),
        port: await freePort(),
        tlsKeyPem: tls.privateKeyPem,
        tlsCertificatePem: tls.certificatePem,
        signingKeyPem: idpKeys.signing.privateKeyPem,
        signedInfoBase64: shape.signedInfo.toString('base64'),
        bodyBytes: shape.answerBytes,
      },
    });
  };

  let plans: StatementPlan[] | undefined;
  if (want('plans')) plans = await tracePlans();

  // Rounds that alternate the configurations compared with each other, so that a change
  // in what else runs on the machine does not pass for a difference between them.
  const reference: ScenarioFigure[] = [];
  const scaled: ScenarioFigure[] = [];
  const oneCore: ScenarioFigure[] = [];
  /** Raw signing and samlify measured on the server's CPU just before each one-core round. */
  const oneCoreBaselines: RatioBaselines[] = [];
  const ceilings: ScenarioFigure[] = [];
  /** The same ceiling on two workers, unpinned, one per two-worker round: how far this machine lets any signing server scale. */
  const twoWorkerCeilings: ScenarioFigure[] = [];
  const storedSessions = seeding?.fleet.sessions;
  const rounds = want('idp-2w') || want('scale') || want('idp-1w') || want('sp-jwt') ? opts.rounds : 0;
  for (let round = 1; round <= rounds; round++) {
    const configurations = [
      want('idp-2w') ? 'two workers with ~100 stored sessions' : undefined,
      want('scale') ? 'two workers at fleet scale' : undefined,
      want('idp-1w') || (want('sp-jwt') && round === 1) ? 'one worker' : undefined,
    ].filter(Boolean);
    progress(`--- round ${round} of ${rounds}: ${configurations.join(', ')} ---`);
    if (want('idp-2w')) {
      await switchTo(smallDir, 2, `idp-2w-r${round}`);
      reference.push(await measure(`idp-mtls-2w-r${round}`, `IdP-initiated, mTLS, assertion signed, ~100 stored sessions (round ${round})`, idpLoad(assertionSignedSp)));
      await server.stop();
      server = await startCeiling({ workers: 2 });
      twoWorkerCeilings.push(
        await measure(`tls-sign-ceiling-2w-r${round}`, `Ceiling: HTTPS + mTLS + one RSA-2048 signature, no IdP logic, 2 workers (round ${round})`, idpLoad(assertionSignedSp)),
      );
      await server.stop();
    }
    if (want('scale')) {
      await catchUpFleet();
      await switchTo(scaleDir, 2, `scale-r${round}`);
      scaled.push(
        await measure(
          `idp-mtls-2w-scale-r${round}`,
          `IdP-initiated, mTLS, assertion signed, ${seeding!.fleet.agents.toLocaleString('en-US')} agents, ${storedSessions!.toLocaleString('en-US')} stored sessions (round ${round})`,
          idpLoad(assertionSignedSp),
        ),
      );
      await server.stop();
    }
    if (want('idp-1w') || (want('sp-jwt') && round === 1)) {
      if (want('idp-1w') && want('baselines')) {
        const unpinBaselines = pinThisProcess(serverCpu);
        try {
          const adjacent = await runRatioBaselines(idpKeys.signing, issuer, assertionSignedSp, opts.baselineRoundMs, `CPU ${serverCpu} before one-core round ${round}`);
          oneCoreBaselines.push(adjacent);
          baselines[`rawSignRound${round}`] = adjacent.rawSign;
          baselines[`samlifyRound${round}`] = adjacent.samlify;
          progress(`baselines on CPU ${serverCpu} before round ${round}: raw RSA-2048 sign ${Math.round(adjacent.rawSign.opsPerSecond)}/s, samlify ${Math.round(adjacent.samlify.opsPerSecond)}/s`);
        } finally {
          unpinBaselines();
        }
      }
      await switchTo(mainDir, 1, `idp-1w-r${round}`, undefined, serverCpu);
      const unpin = pinThisProcess(generatorCpus);
      try {
        if (want('idp-1w')) {
          oneCore.push(await measure(`idp-mtls-1w-r${round}`, `IdP-initiated, mTLS, assertion signed, 1 worker pinned to 1 CPU (round ${round})`, idpLoad(assertionSignedSp)));
          // What the same server spends on an answer without sign-on work: TLS, HTTP, Express, logging.
          if (round === 1) {
            await measure('https-floor-1w', 'HTTPS floor: GET /healthz, mTLS, keep-alive, 1 worker pinned to 1 CPU', {
              connections: CONNECTIONS,
              next: () => ({ path: '/healthz', headers: { accept: 'application/json' } }),
              mtls: true,
            });
          }
        }
        if (want('sp-jwt') && round === 1) {
          progress('making fresh AuthnRequests and agent JWTs');
          await measure('sp-jwt-1w', 'SP-initiated (Redirect), JWT agents, fresh AuthnRequests, 1 worker pinned to 1 CPU', await spLoad(oneCore[0]?.load.rps ?? 1_500));
        }
        await server.stop();
        // The ceiling of the same CPU: TLS, HTTP and the RSA signature alone, same answer size (ceiling-server.ts).
        if (want('idp-1w')) {
          server = await startCeiling({ cpus: serverCpu });
          ceilings.push(
            await measure(`tls-sign-ceiling-1w-r${round}`, `Ceiling: HTTPS + mTLS + one RSA-2048 signature, no IdP logic, pinned to 1 CPU (round ${round})`, idpLoad(assertionSignedSp)),
          );
          await server.stop();
        }
      } finally {
        unpin();
      }
    }
  }

  let heldRate: ScenarioFigure | undefined;
  let deprovision: DeprovisionTrial[] = [];
  if (want('both-signed') || want('sp-jwt') || want('held') || want('deprovision')) {
    progress('--- two workers: other sign-ons, latency at a held rate, deprovisioning ---');
    await switchTo(mainDir, 2, 'two-workers');
    if (want('both-signed')) await measure('idp-mtls-both-2w', 'IdP-initiated, mTLS, assertion and Response signed', idpLoad(bothSignedSp));
    if (want('sp-jwt')) {
      progress('making fresh AuthnRequests and agent JWTs');
      await measure('sp-jwt-2w', 'SP-initiated (Redirect), JWT agents, fresh AuthnRequests', await spLoad(reference.length > 0 ? mean(reference) : 3_000));
    }
    if (want('held')) {
      // Enough connections that the generator can hold the rate even when each response takes tens of milliseconds.
      heldRate = await measure('idp-mtls-1000-2w', 'IdP-initiated, mTLS, held at 1,000/s (open loop)', { ...idpLoad(assertionSignedSp), connections: 64, overallRate: 1_000 });
      // And at a rate this machine sustains with the generator beside it (40 % of the two-worker throughput).
      if (reference.length > 0) {
        const sustainable = Math.max(50, Math.round((mean(reference) * 0.4) / 50) * 50);
        await measure(`idp-mtls-${sustainable}-2w`, `IdP-initiated, mTLS, held at ${sustainable.toLocaleString('en-US')}/s (open loop)`, {
          ...idpLoad(assertionSignedSp),
          connections: 64,
          overallRate: sustainable,
        });
      }
    }
    if (want('deprovision')) {
      progress('--- deprovisioning ---');
      orchestrator = new Orchestrator(new HttpsClient(server), token);
      deprovision = await deprovisionTrials({ orchestrator, server, dataDir: mainDir, sp: assertionSignedSp, audiences, trials: 3, progress });
      orchestrator.client.close();
    }
    await server.stop();
  }
  // What a held 1,000/s asks of this machine for a server that only terminates mTLS and signs.
  let heldCeiling: ScenarioFigure | undefined;
  if (want('held')) {
    server = await startCeiling({ workers: 2 });
    heldCeiling = await measure('tls-sign-ceiling-1000-2w', 'Ceiling: HTTPS + mTLS + one RSA-2048 signature, no IdP logic, 2 workers, held at 1,000/s (open loop)', {
      ...idpLoad(assertionSignedSp),
      connections: 64,
      overallRate: 1_000,
    });
    await server.stop();
  }

  let scimLists: ScimListFigure[] | undefined;
  if (want('scim-lists')) {
    progress('--- SCIM lists on the fleet-scale copy, 1 worker ---');
    await catchUpFleet();
    await switchTo(scaleDir, 1, 'scim-lists');
    scimLists = await scimListTrials({ server, token, agents: seeding!.fleet.agents, progress });
    await server.stop();
  }

  // Nothing continues the history after this point.
  await fleet?.close();

  const targets = checkTargets({
    rawSign: baselines.rawSign,
    rawSignTwoCores: baselines.rawSignTwoCores,
    signCost: baselines.rawSignBackToBack && baselines.rawSignPaced ? { backToBack: baselines.rawSignBackToBack, paced: baselines.rawSignPaced } : undefined,
    samlify: baselines.samlify,
    deprovision,
    reference,
    scaled,
    oneCore,
    heldRate,
    oneCoreBaselines,
    ceilings,
    twoWorkerCeilings,
    heldCeiling,
    storedSessions,
    machineCpus: cpus().length,
  });
  const report: BenchReport = {
    machine: {
      cpus: availableParallelism(),
      model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      kernel: release(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    },
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    notes: [
      'The load generator (autocannon, or the open-loop generator for held rates, in the bench process) and the IdP share the same CPUs; ' +
        '"machine share" is each one\'s CPU time over the run\'s wall time × CPUs; "busy in all" is the whole machine\'s (/proc/stat), ' +
        'which adds the kernel\'s work outside any process (loopback TCP, block I/O) and anything else running.',
      `Each run: ${opts.warmupSeconds} s warm-up, then ${opts.durationSeconds} s measured, ${CONNECTIONS} keep-alive HTTPS connections unless stated.`,
      'Ratios are per core: a run on N workers against N times the single-core in-process baseline.',
      'Rounds alternate the configurations compared (two workers at ~100 and at fleet-scale stored sessions, one worker); targets use the mean of the rounds.',
      'Held rates: requests are due at fixed intervals whatever the server does; latency counts from the due time; ' +
        'requests still unanswered 10 s after the last was due are abandoned and counted with the time they had waited.',
      `CPU busy with other work on the machine just before the run: ${(busyBefore * 100).toFixed(0)} %.`,
      ...notes,
    ],
    baselines,
    scenarios,
    deprovision,
    seeding,
    plans,
    scimLists,
    targets,
    profiles: opts.profileDir,
  };
  writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
  const sections = [renderTable(report)];
  if (deprovision.length > 0) sections.push(`Deprovisioning\n\n${renderDeprovision(deprovision)}`);
  if (seeding) sections.push(`Fleet scale\n\n${renderSeeding(seeding)}`);
  if (plans) sections.push(`Query plans of the sign-on path on the fleet-scale copy\n\n${renderPlans(plans)}`);
  if (scimLists) sections.push(`SCIM lists on the fleet-scale copy (1 worker)\n\n${renderScimLists(scimLists)}`);
  sections.push(renderTargets(targets));
  process.stdout.write(`\n${sections.join('\n\n')}\n\n`);
  process.stdout.write(`Machine: ${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}; results in ${opts.out}\n`);
  if (opts.profileDir && existsSync(opts.profileDir)) {
    const folders = readdirSync(opts.profileDir).sort();
    process.stdout.write(`CPU profiles (open in Chrome DevTools or speedscope): ${opts.profileDir}\n`);
    for (const folder of folders) process.stdout.write(`  ${folder}: ${readdirSync(path.join(opts.profileDir, folder)).length} .cpuprofile file(s)\n`);
  }
  if (!opts.keepData) rmSync(root, { recursive: true, force: true });
  else progress(`data directories kept: ${root}`);

  /**
   * The statements the sign-on path runs, recorded in the server workers (sql-trace.ts) during a
   * short run of both sign-on flows on the fleet-scale copy, then explained on that database.
   */
  async function tracePlans(): Promise<StatementPlan[]> {
    progress('--- query plans: tracing the statements of both sign-on flows on the fleet-scale copy ---');
    const traceDir = path.join(root, 'sql-trace');
    mkdirSync(traceDir, { recursive: true });
    await catchUpFleet();
    await switchTo(scaleDir, 2, 'sql-trace', traceDir);
    let signOns = 0;
    const traced = { connections: 8, durationSeconds: 3 };
    signOns += (await runLoad({ ...traced, name: 'trace: IdP-initiated mTLS', port: server.port, next: idpInitiated(assertionSignedSp, mtlsTasks), clientCertificate: { certPem: mtlsAgent.credential!.certPem, keyPem: mtlsAgent.credential!.keyPem } })).completed;
    const pool = await spInitiatedPool(assertionSignedSp, server.baseUrl, jwtAgents, 3_000);
    signOns += (await runLoad({ ...traced, name: 'trace: SP-initiated JWT', port: server.port, next: cycling(pool) })).completed;
    // The trace files are written every second.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await server.stop();
    const plans = explainStatements(scaleDir, readTrace(traceDir), signOns);
    const scans = plans.filter((p) => p.verdict === 'scan' && p.perSignOn > 0);
    progress(`query plans: ${plans.length} statements over ${signOns.toLocaleString('en-US')} sign-ons; ${scans.length} scan a table or a whole index`);
    for (const scan of scans) progress(`  SCAN (${scan.perSignOn.toFixed(2)} per sign-on, ${scan.preparedAt}): ${scan.detail}`);
    return plans;
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await Promise.all([...servers].map((server) => server.stop().catch(() => undefined)));
  process.exit(1);
});
