#!/usr/bin/env node
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir, availableParallelism, release } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../lib/common/clock.js';
import { loadOrCreateIdpKeys, readKeyEncryptionKey } from '../../lib/keys/index.js';
import { openGroupCommitDatabase, openSqliteStore, sqliteStore } from '../../lib/store/index.js';
import { entryFromEvent } from '../../lib/audit/index.js';
import { runBaselines, runStorageBaselines } from './baselines.js';
import { agentJwt, ecCredential, redirectAuthnRequestPath, rsaCredential, spMetadata, type AgentCredential, type BenchSp } from './fixtures.js';
import { runLoad, type LoadRequest, type LoadResult } from './load.js';
import { inParallel, HttpsClient, processTreeCpuSeconds, startServer, tessera, type RunningServer } from './server.js';
import { renderDeprovision, renderTable, renderTargets, type BenchReport, type DeprovisionTrial, type ScenarioFigure, type Target } from './report.js';

/*
 * `npm run bench`: sign-on throughput and latency of the IdP as an operator
 * runs it, against the limits that matter (the raw RSA operation, samlify),
 * in one run on this machine. See README "Performance".
 */

const USAGE = `usage: npm run bench -- [--quick] [--duration SECONDS] [--out FILE] [--scale-agents N] [--scale-sessions N] [--keep-data]`;

interface Options {
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly out: string;
  readonly scaleAgents: number;
  readonly scaleSessions: number;
  readonly keepData: boolean;
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
      'keep-data': { type: 'boolean', default: false },
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
  return {
    quick,
    durationSeconds: positive(values.duration, quick ? 5 : 20, 'duration'),
    warmupSeconds: quick ? 2 : 5,
    out: path.resolve(values.out),
    scaleAgents: positive(values['scale-agents'], quick ? 2_000 : 100_000, 'scale-agents'),
    scaleSessions: positive(values['scale-sessions'], quick ? 20_000 : 1_000_000, 'scale-sessions'),
    keepData: values['keep-data'],
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

const AGENT_EXTENSION = 'urn:tessera:scim:schemas:extension:agent:2.0:Agent';
const SCOPES = ['invoices:read', 'invoices:write', 'reports:read'];

interface BenchAgent {
  readonly id: string;
  readonly userName: string;
  readonly credential: AgentCredential | undefined;
}

class Orchestrator {
  constructor(
    readonly client: HttpsClient,
    private readonly token: string,
  ) {}

  private headers(type: string): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, 'content-type': type, accept: type };
  }

  async provision(userName: string, credential: AgentCredential | undefined): Promise<BenchAgent> {
    const response = await this.client.send(
      'POST',
      '/scim/v2/Users',
      this.headers('application/scim+json'),
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', AGENT_EXTENSION],
        userName,
        active: true,
        ...(credential ? { x509Certificates: [{ value: credential.certBase64 }] } : {}),
        [AGENT_EXTENSION]: {
          owner: 'bench@example.com',
          modelHash: 'sha256:9f2c4e1b7a0d',
          sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f',
          trainingDataVersion: 'td-2026.11',
          sensitivityTier: 'medium',
          computeZone: 'eu-west-1a',
          scopes: SCOPES,
        },
      }),
    );
    if (response.status !== 201) throw new Error(`provisioning ${userName} failed: ${response.status} ${response.body}`);
    return { id: response.json<{ id: string }>().id, userName, credential };
  }

  async openTask(agent: string, audiences: readonly string[]): Promise<string> {
    const response = await this.client.send(
      'POST',
      '/api/v1/tasks',
      this.headers('application/json'),
      JSON.stringify({ agent, scopes: ['invoices:read'], tier: 'medium', audiences, ttlSeconds: 86_400 }),
    );
    if (response.status !== 201) throw new Error(`opening a task for ${agent} failed: ${response.status} ${response.body}`);
    return response.json<{ taskId: string }>().taskId;
  }

  async deactivate(id: string): Promise<number> {
    const response = await this.client.send(
      'PATCH',
      `/scim/v2/Users/${id}`,
      this.headers('application/scim+json'),
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    );
    if (response.status !== 200 && response.status !== 204) throw new Error(`deprovisioning failed: ${response.status} ${response.body}`);
    return response.status;
  }

  async get(id: string): Promise<number> {
    return (await this.client.send('GET', `/scim/v2/Users/${id}`, this.headers('application/scim+json'))).status;
  }
}

/** Requests that cycle through a pool of tasks: the first sign-on per task opens its session, the next ones refresh it. */
function cycling<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length]!;
}

function idpInitiated(sp: BenchSp, tasks: readonly string[]): () => LoadRequest {
  const task = cycling(tasks);
  const path = `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`;
  return () => ({ path, headers: { 'task-id': task(), accept: 'application/json' } });
}

interface JwtAgent {
  readonly agent: BenchAgent;
  readonly tasks: readonly string[];
}

/** Fresh AuthnRequests and single-use JWTs, made before the run: `count` of them, spread over the agents. */
async function spInitiatedPool(sp: BenchSp, server: RunningServer, agents: readonly JwtAgent[], count: number): Promise<LoadRequest[]> {
  const now = new Date();
  const ssoUrl = `${server.baseUrl}/saml/sso`;
  const audience = `${server.baseUrl}/saml/metadata`;
  const pool: LoadRequest[] = [];
  for (let i = 0; i < count; i++) {
    const { agent, tasks } = agents[i % agents.length]!;
    const jwt = await agentJwt(agent.credential!, agent.userName, audience, now);
    pool.push({
      path: redirectAuthnRequestPath(sp, ssoUrl, now),
      headers: { authorization: `Bearer ${jwt}`, 'task-id': tasks[Math.floor(i / agents.length) % tasks.length]!, accept: 'application/json' },
    });
  }
  return pool;
}

function liveSessions(dataDir: string, agentId: string): Promise<number> {
  const store = openSqliteStore(dataDir);
  return store.sessions
    .listLiveForAgent(agentId, new Date())
    .then((sessions) => sessions.length)
    .finally(() => store.close());
}

/** Servers this run started, stopped whatever happens to the run. */
const servers = new Set<RunningServer>();

async function launch(options: { dataDir: string; port: number; workers: number }): Promise<RunningServer> {
  const server = await startServer(options);
  servers.add(server);
  return {
    ...server,
    stop: async () => {
      servers.delete(server);
      await server.stop();
    },
  };
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-'));
  const notes: string[] = [];
  const scenarios: ScenarioFigure[] = [];
  const loads: Record<string, LoadResult> = {};
  progress(`Tessera sign-on benchmark${opts.quick ? ' (quick)' : ''}: data directory ${dataDir}`);
  progress(`machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load generator and server share these CPUs`);
  const busyBefore = await machineBusy(3_000);
  progress(`CPU busy with other work before the run: ${(busyBefore * 100).toFixed(0)} %`);

  const port = await freePort();
  let server = await launch({ dataDir, port, workers: 2 });
  progress(`IdP started: ${server.baseUrl}, 2 workers`);
  const token = (await tessera(dataDir, ['token', 'create', 'bench'])).trim();
  const assertionSignedSp = spMetadata('sp-assertion-signed');
  const bothSignedSp = spMetadata('sp-both-signed');
  for (const [sp, flags] of [
    [assertionSignedSp, ['--no-sign-response']],
    [bothSignedSp, []],
  ] as const) {
    const file = path.join(dataDir, `${sp.entityId.split('/')[2]}.xml`);
    writeFileSync(file, sp.metadataXml);
    await tessera(dataDir, ['sp', 'register', file, ...flags]);
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

  // Baselines, with the IdP's own signing key, on an idle machine.
  const store = openSqliteStore(dataDir);
  const keys = await loadOrCreateIdpKeys({
    keys: store.keys,
    kek: readKeyEncryptionKey({ masterKey: process.env.TESSERA_MASTER_KEY || undefined, dataDir }),
    clock: systemClock,
    tlsNames: ['localhost'],
  });
  const signingKey = keys.signing;
  store.close();
  const signing = await runBaselines(signingKey, `${server.baseUrl}/saml/metadata`, assertionSignedSp, opts.baselineRoundMs, progress);
  const scratch = mkdtempSync(path.join(tmpdir(), 'tessera-bench-storage-'));
  const storage = await runStorageBaselines(scratch, opts.baselineRoundMs, progress).finally(() => rmSync(scratch, { recursive: true, force: true }));
  const baselines = { ...signing, ...storage };

  const measure = async (id: string, label: string, workers: number, spec: { connections: number; overallRate?: number; next: () => LoadRequest; mtls: boolean }): Promise<LoadResult> => {
    const common = {
      port: server.port,
      connections: spec.connections,
      next: spec.next,
      ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
      ...(spec.mtls ? { clientCertificate: { certPem: mtlsAgent.credential!.certPem, keyPem: mtlsAgent.credential!.keyPem } } : {}),
    };
    await runLoad({ ...common, name: `${label} (warm-up)`, durationSeconds: opts.warmupSeconds });
    const cpuBefore = processTreeCpuSeconds(server.pid);
    const result = await runLoad({ ...common, name: label, durationSeconds: opts.durationSeconds, progress });
    const serverCpuMicrosPerResponse = ((processTreeCpuSeconds(server.pid) - cpuBefore) * 1e6) / Math.max(1, result.completed + result.non2xx);
    progress(
      `${label}: ${Math.round(result.rps)} responses/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ` +
        `server CPU ${Math.round(serverCpuMicrosPerResponse)} µs/response, non-2xx ${result.non2xx}, errors ${result.errors}`,
    );
    if (result.non2xx + result.errors + result.timeouts > 0) notes.push(`${label}: status codes ${JSON.stringify(result.statusCodes)}, errors ${result.errors}, timeouts ${result.timeouts}`);
    scenarios.push({ id, label, workers, load: result, serverCpuMicrosPerResponse, ...(spec.overallRate !== undefined ? { fixedRate: spec.overallRate } : {}) });
    loads[id] = result;
    return result;
  };
  const CONNECTIONS = 24;

  // Two workers, 100 stored sessions: the reference for the scale run at the end.
  progress('--- two workers ---');
  const reference = await measure('idp-mtls-2w', 'IdP-initiated, mTLS, assertion signed', 2, {
    connections: CONNECTIONS,
    next: idpInitiated(assertionSignedSp, mtlsTasks),
    mtls: true,
  });
  await measure('idp-mtls-both-2w', 'IdP-initiated, mTLS, assertion and Response signed', 2, {
    connections: CONNECTIONS,
    next: idpInitiated(bothSignedSp, mtlsTasks),
    mtls: true,
  });
  const poolSize = Math.ceil(reference.rps * 1.3 * (opts.durationSeconds + opts.warmupSeconds + 2));
  progress(`making ${poolSize.toLocaleString('en-US')} fresh AuthnRequests and agent JWTs`);
  let pool = await spInitiatedPool(assertionSignedSp, server, jwtAgents, poolSize);
  await measure('sp-jwt-2w', 'SP-initiated (Redirect), JWT agents, fresh AuthnRequests', 2, {
    connections: CONNECTIONS,
    next: cycling(pool),
    mtls: false,
  });
  await measure('idp-mtls-1000-2w', 'IdP-initiated, mTLS, fixed 1,000/s', 2, {
    connections: 16,
    overallRate: 1_000,
    next: idpInitiated(assertionSignedSp, mtlsTasks),
    mtls: true,
  });

  // Deprovisioning an agent that holds 1,000 live sessions.
  progress('--- deprovisioning ---');
  const deprovision: DeprovisionTrial[] = [];
  for (let trial = 0; trial < 3; trial++) {
    const userName = `bench-deprovisioned-${trial}`;
    const credential = await rsaCredential(userName);
    const agent = await orchestrator.provision(userName, credential);
    const tasks = await inParallel(Array.from({ length: 1_000 }), 16, () => orchestrator.openTask(userName, audiences));
    const agentClient = new HttpsClient(server, { maxSockets: 16, cert: credential.certPem, key: credential.keyPem });
    const signOnPath = `/saml/sso/initiate?sp=${encodeURIComponent(assertionSignedSp.entityId)}`;
    const statuses = await inParallel(tasks, 16, async (task) => (await agentClient.send('GET', signOnPath, { 'task-id': task, accept: 'application/json' })).status);
    if (statuses.some((s) => s !== 200)) throw new Error(`sign-ons before deprovisioning failed: ${statuses.filter((s) => s !== 200).length}`);
    const liveSessionsBefore = await liveSessions(dataDir, agent.id);
    await orchestrator.get(agent.id); // the orchestrator's connection is open, as it would be
    const t0 = performance.now();
    const status = await orchestrator.deactivate(agent.id);
    const milliseconds = performance.now() - t0;
    const next = await agentClient.send('GET', signOnPath, { 'task-id': tasks[0]!, accept: 'application/json' });
    const nextError = next.status === 200 ? undefined : (() => {
      try {
        return next.json<{ error?: string }>().error;
      } catch {
        return undefined;
      }
    })();
    agentClient.close();
    const trialResult: DeprovisionTrial = {
      liveSessionsBefore,
      status,
      milliseconds,
      nextSignOnStatus: next.status,
      nextSignOnError: nextError,
      liveSessionsAfter: await liveSessions(dataDir, agent.id),
    };
    deprovision.push(trialResult);
    progress(`deprovisioned an agent with ${liveSessionsBefore} live sessions in ${milliseconds.toFixed(1)} ms; next sign-on ${next.status}${nextError ? ` ${nextError}` : ''}; live sessions after: ${trialResult.liveSessionsAfter}`);
  }

  // One worker: the per-core figures.
  orchestrator.client.close();
  await server.stop();
  server = await launch({ dataDir, port, workers: 1 });
  orchestrator = new Orchestrator(new HttpsClient(server), token);
  progress('--- one worker ---');
  const oneCore = await measure('idp-mtls-1w', 'IdP-initiated, mTLS, assertion signed', 1, {
    connections: CONNECTIONS,
    next: idpInitiated(assertionSignedSp, mtlsTasks),
    mtls: true,
  });
  pool = await spInitiatedPool(assertionSignedSp, server, jwtAgents, Math.ceil(oneCore.rps * 1.3 * (opts.durationSeconds + opts.warmupSeconds + 2)));
  await measure('sp-jwt-1w', 'SP-initiated (Redirect), JWT agents, fresh AuthnRequests', 1, {
    connections: CONNECTIONS,
    next: cycling(pool),
    mtls: false,
  });

  // Scale: the agent, session and audit counts of a large fleet, then the reference run again.
  progress(`--- scale: ${opts.scaleAgents.toLocaleString('en-US')} agents, ${opts.scaleSessions.toLocaleString('en-US')} stored sessions ---`);
  orchestrator.client.close();
  await server.stop();
  const seeded = await seedFleet(dataDir, opts.scaleAgents - (1 + jwtAgents.length + 3), opts.scaleSessions);
  server = await launch({ dataDir, port, workers: 2 });
  orchestrator = new Orchestrator(new HttpsClient(server), token);
  const scaled = await measure(
    'idp-mtls-2w-scale',
    `IdP-initiated, mTLS, assertion signed, ${seeded.agents.toLocaleString('en-US')} agents, ${seeded.sessions.toLocaleString('en-US')} stored sessions`,
    2,
    { connections: CONNECTIONS, next: idpInitiated(assertionSignedSp, mtlsTasks), mtls: true },
  );
  orchestrator.client.close();
  await server.stop();

  const targets = checkTargets({ loads, baselines, deprovision, reference, scaled, oneCore });
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
      'The load generator (autocannon, in this process) and the IdP share the same CPUs.',
      `Each run: ${opts.warmupSeconds} s warm-up, then ${opts.durationSeconds} s measured, ${CONNECTIONS} keep-alive HTTPS connections unless stated.`,
      'Ratios are per core: a run on N workers against N times the single-core in-process baseline.',
      `CPU busy with other work on the machine just before the run: ${(busyBefore * 100).toFixed(0)} %.`,
      ...notes,
    ],
    baselines: { ...baselines },
    scenarios,
    deprovision,
    scale: { agents: seeded.agents, storedSessions: seeded.sessions, referenceSessions: 100 },
    targets,
  };
  writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\n${renderTable(report)}\n\nDeprovisioning\n\n${renderDeprovision(deprovision)}\n\n${renderTargets(targets)}\n\n`);
  process.stdout.write(`Machine: ${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}; results in ${opts.out}\n`);
  if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
  else progress(`data directory kept: ${dataDir}`);
}

/**
 * What a long-running IdP for a large fleet holds: agents (most without a
 * credential at hand), one task for every hundred stored sessions, the
 * sessions themselves as history (expired and marked ended, as the sweeper
 * leaves them) and one chained audit entry per session. Written through the
 * repositories, in large transactions, while the server is stopped.
 */
async function seedFleet(dataDir: string, agentCount: number, sessionCount: number): Promise<{ agents: number; sessions: number }> {
  const database = openGroupCommitDatabase(dataDir);
  const store = sqliteStore(database.db);
  const BATCH = 10_000;
  const now = Date.now();
  const agents: Array<{ id: string; userName: string }> = [];
  const seedAgents = database.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const agent = { id: randomUUID(), userName: `fleet-${String(i).padStart(6, '0')}` };
      agents.push(agent);
      // The repositories' methods run synchronously inside this transaction (better-sqlite3).
      void store.agents.create(
        {
          ...agent,
          active: true,
          externalId: undefined,
          profile: {
            owner: 'fleet@example.com',
            modelHash: 'sha256:9f2c4e1b7a0d',
            sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f',
            trainingDataVersion: 'td-2026.11',
            sensitivityTier: 'medium',
            computeZone: 'eu-west-1a',
            allowedCidrs: [],
            scopes: SCOPES,
          },
          extraAttributes: {},
          certificates: [],
        },
        new Date(now),
      );
    }
  });
  for (let from = 0; from < agentCount; from += BATCH) {
    seedAgents(from, Math.min(agentCount, from + BATCH));
    if ((from + BATCH) % 50_000 === 0 || from + BATCH >= agentCount) progress(`stored ${Math.min(agentCount, from + BATCH).toLocaleString('en-US')} agents`);
  }

  const perTask = 100;
  const tasks: Array<{ id: string; agent: { id: string; userName: string } }> = [];
  const seedTasks = database.db.transaction((count: number) => {
    for (let i = 0; i < count; i++) {
      const agent = agents[i % agents.length]!;
      const task = {
        id: randomUUID(),
        agentId: agent.id,
        scopes: ['invoices:read'],
        tier: 'medium' as const,
        audiences: [],
        context: { cidrs: [], computeZone: undefined },
        status: 'OPEN' as const,
        createdAt: new Date(now - 7_200_000),
        expiresAt: new Date(now + 86_400_000),
        endedAt: undefined,
      };
      void store.tasks.create(task);
      tasks.push({ id: task.id, agent });
    }
  });
  seedTasks(Math.ceil(sessionCount / perTask));

  const seedSessions = database.db.transaction((from: number, to: number) => {
    const entries = [];
    for (let i = from; i < to; i++) {
      const { id: taskId, agent } = tasks[Math.floor(i / perTask)]!;
      const createdAt = new Date(now - 3_600_000 + (i % 3_000_000));
      const session = {
        id: randomUUID(),
        sessionIndex: `_${randomUUID().replaceAll('-', '')}`,
        agentId: agent.id,
        taskId,
        spEntityId: 'https://sp-assertion-signed.bench.example/saml',
        nameId: agent.userName,
        nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        assertionId: `_${randomUUID().replaceAll('-', '')}`,
        authnMethod: 'mtls' as const,
        createdAt,
        expiresAt: new Date(createdAt.getTime() + 600_000),
        lastActivityAt: createdAt,
        revokedAt: undefined,
        revokeReason: undefined,
      };
      void store.sessions.createIfTaskOpen(session, createdAt);
      entries.push(
        entryFromEvent(
          {
            event: 'signon.issued',
            actor: `agent:${agent.userName}`,
            agent: { id: agent.id, userName: agent.userName, modelHash: 'sha256:9f2c4e1b7a0d', sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f', trainingDataVersion: 'td-2026.11' },
            taskId,
            spEntityId: session.spEntityId,
            assertionId: session.assertionId,
            sessionId: session.id,
            details: { authnMethod: 'mtls', flow: 'idp-initiated', scopes: ['invoices:read'], sessionNotOnOrAfter: session.expiresAt.toISOString() },
          },
          createdAt,
        ),
      );
    }
    void store.audit.append(entries);
  });
  for (let from = 0; from < sessionCount; from += BATCH) {
    seedSessions(from, Math.min(sessionCount, from + BATCH));
    if ((from + BATCH) % 100_000 === 0 || from + BATCH >= sessionCount) progress(`stored ${Math.min(sessionCount, from + BATCH).toLocaleString('en-US')} sessions and their audit entries`);
  }
  // A running IdP's sweeper marks sessions ended as they expire: do its work up front.
  for (;;) {
    const ended = await store.lifecycle.endExpired(new Date(), 50_000);
    if (ended.length === 0) break;
  }
  database.checkpoint();
  await database.durable();
  const count = (table: string): number => database.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  const totals = { agents: count('agents'), sessions: count('sessions'), audit: count('audit_log') };
  database.close();
  progress(`stored: ${totals.agents.toLocaleString('en-US')} agents, ${totals.sessions.toLocaleString('en-US')} sessions, ${totals.audit.toLocaleString('en-US')} audit entries`);
  return { agents: totals.agents, sessions: totals.sessions };
}

function checkTargets(input: {
  loads: Readonly<Record<string, LoadResult>>;
  baselines: Awaited<ReturnType<typeof runBaselines>> & Awaited<ReturnType<typeof runStorageBaselines>>;
  deprovision: readonly DeprovisionTrial[];
  reference: LoadResult;
  scaled: LoadResult;
  oneCore: LoadResult;
}): Target[] {
  const raw = input.baselines.rawSign.opsPerSecond;
  const samlify = input.baselines.samlify.opsPerSecond;
  const twoCore = input.reference.rps;
  const perCore = input.oneCore.rps;
  const worstDeprovision = Math.max(...input.deprovision.map((t) => t.milliseconds));
  const p99 = input.loads['idp-mtls-1000-2w']!;
  const scaleRatio = input.scaled.rps / input.reference.rps;
  const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return [
    { name: 'IdP-initiated responses/s on one core (1 worker)', target: '≥ 1,500', measured: f(perCore), met: perCore >= 1_500 },
    { name: 'one core against the raw-signing limit', target: '≥ 0.38', measured: f(perCore / raw, 2), met: perCore / raw >= 0.38 },
    { name: 'one core against samlify createLoginResponse', target: '≥ 3.7×', measured: `${f(perCore / samlify, 2)}×`, met: perCore / samlify >= 3.7 },
    { name: 'two cores (2 workers) against one', target: '≥ 1.8×', measured: `${f(twoCore / perCore, 2)}× (${f(twoCore)}/s)`, met: twoCore / perCore >= 1.8 },
    { name: 'p99 latency at 1,000 sign-ons/s', target: '< 25 ms', measured: `${p99.latencyMs.p99} ms (${f(p99.rps)}/s achieved)`, met: p99.latencyMs.p99 < 25 && p99.rps >= 990 },
    {
      name: 'deprovisioning an agent with 1,000 live sessions',
      target: '< 50 ms, next sign-on refused',
      measured: `${f(worstDeprovision, 1)} ms worst of ${input.deprovision.length}; next sign-on ${input.deprovision.map((t) => t.nextSignOnStatus).join('/')}`,
      met:
        worstDeprovision < 50 &&
        input.deprovision.every((t) => t.liveSessionsBefore >= 1_000 && t.nextSignOnStatus !== 200 && t.liveSessionsAfter === 0),
    },
    {
      name: 'throughput with the stored sessions of a large fleet against 100',
      target: 'within 10 %',
      measured: `${f(scaleRatio * 100 - 100, 1)} % (${f(input.scaled.rps)}/s against ${f(input.reference.rps)}/s)`,
      met: Math.abs(scaleRatio - 1) <= 0.1 || scaleRatio > 1,
    },
  ];
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await Promise.all([...servers].map((server) => server.stop().catch(() => undefined)));
  process.exit(1);
});
