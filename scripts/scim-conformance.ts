#!/usr/bin/env node
/*
 * Runs the two vendor SCIM suites in ../shared/conformance/scim against a Tessera started
 * the README way (`tessera start` with a fresh data directory, a token from `tessera token
 * create`): Microsoft's Postman collection through newman, then Okta's Runscope suite through
 * its dependency-free runner. TLS is verified: both clients are pointed at the server's own
 * certificate. Requests that depart from RFC 7644 are listed in NON_RFC_REQUESTS with the
 * reason and the answer Tessera gives instead; every other request must pass.
 *
 *   node dist/scripts/scim-conformance.js [--suites DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface NonRfcRequest {
  readonly folder: string;
  readonly name: string;
  /** Which occurrence of the name in its folder (the collection repeats names). */
  readonly occurrence: number;
  readonly reason: string;
  /** The status Tessera answers, checked so a skip cannot hide a different failure. */
  readonly expectedStatus: number;
}

/** Microsoft collection requests that RFC 7644 does not ask a server to accept as the test expects. */
export const NON_RFC_REQUESTS: readonly NonRfcRequest[] = [
  {
    folder: 'Endpoint tests',
    name: 'Get ServiceProviderConfig',
    occurrence: 1,
    reason: 'calls /serviceConfiguration; RFC 7644 §4 names the endpoint /ServiceProviderConfig (which Tessera serves)',
    expectedStatus: 404,
  },
  {
    folder: 'Group tests',
    name: 'Get group by id',
    occurrence: 1,
    reason: 'expects the "displayName" a PATCH put on a member echoed back; RFC 7643 §4.2 members have value, $ref, type (and display): Tessera returns the member by value with its userName as display',
    expectedStatus: 200,
  },
  {
    folder: 'ComplexAttribute tests',
    name: 'Get user attributes',
    occurrence: 1,
    reason: 'attributes=emails[type eq "work"]: RFC 7644 §3.4.2.5 takes attribute names, not value filters; refused with 400 invalidValue',
    expectedStatus: 400,
  },
  {
    folder: 'ComplexAttribute tests',
    name: 'Get user via attributes filter',
    occurrence: 1,
    reason: 'attributes=emails[value eq "…"]: a value filter in the attributes parameter (see above)',
    expectedStatus: 400,
  },
  {
    folder: 'User tests with garbage',
    name: 'filter eq and (val or val)',
    occurrence: 1,
    reason: 'unquoted values (eq Employee, co example.com): RFC 7644 §3.4.2.2 compValue is false/null/true/number/JSON string; 400 invalidFilter',
    expectedStatus: 400,
  },
  {
    folder: 'User tests with garbage',
    name: 'filter starts with',
    occurrence: 1,
    reason: 'unquoted value (userName sw O); 400 invalidFilter',
    expectedStatus: 400,
  },
  {
    folder: 'User tests with garbage',
    name: 'filter greater than',
    occurrence: 1,
    reason: 'unquoted dateTime (meta.Created gt 2015-10-10T14:38:21.8617979-07:00); 400 invalidFilter',
    expectedStatus: 400,
  },
  {
    folder: 'Group tests with garbage',
    name: 'Group patch add member',
    occurrence: 1,
    reason: 'adds the string "string id 1" to members, a multi-valued complex attribute of User references (RFC 7643 §4.2); 400 invalidValue',
    expectedStatus: 400,
  },
  {
    folder: 'Group tests with garbage',
    name: 'Group patch add member2',
    occurrence: 1,
    reason: 'as above, "string id 2"',
    expectedStatus: 400,
  },
];

export interface RequestResult {
  readonly folder: string;
  readonly name: string;
  readonly occurrence: number;
  readonly status: number | undefined;
  readonly failures: readonly string[];
  readonly skipped: NonRfcRequest | undefined;
}

export interface ConformanceReport {
  readonly microsoft: readonly RequestResult[];
  readonly okta: { readonly passed: number; readonly failed: number; readonly output: string };
}

export async function runScimConformance(suitesDir: string): Promise<ConformanceReport> {
  for (const file of ['ms-scim-PostmanCollection.json', 'Okta-SCIM-20-SPEC-Test.json', 'run-okta-suite.mjs']) {
    if (!existsSync(path.join(suitesDir, file))) throw new Error(`${path.join(suitesDir, file)} is missing: the conformance suites live in ../shared/conformance/scim`);
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-conformance-'));
  try {
    const microsoft = await withServer(path.join(work, 'ms'), async (server) => runMicrosoft(suitesDir, work, server));
    const okta = await withServer(path.join(work, 'okta'), async (server) => runOkta(suitesDir, server));
    return { microsoft, okta };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface Server {
  readonly port: number;
  readonly token: string;
  readonly certificateFile: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `tessera start` in a fresh data directory, and a token from `tessera token create`, as the README does it. */
async function withServer<T>(dataDir: string, use: (server: Server) => Promise<T>): Promise<T> {
  const port = await freePort();
  const cli = path.join(REPO, 'dist/scripts/tessera.js');
  const env = { ...process.env, TESSERA_DATA_DIR: dataDir, TESSERA_PORT: String(port), TESSERA_BASE_URL: `https://localhost:${port}` };
  const child = spawn(process.execPath, [cli, 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await listening(child);
    const created = spawnSync(process.execPath, [cli, 'token', 'create', 'conformance'], { env, encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`tessera token create failed: ${created.stderr}`);
    return await use({ port, token: created.stdout.trim(), certificateFile: path.join(dataDir, 'tls-certificate.pem') });
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  }
}

function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`tessera start did not listen within 20 s: ${stderr}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tessera start exited with ${code}: ${stderr}`));
    });
  });
}

interface PostmanItem {
  readonly name: string;
  readonly item?: PostmanItem[];
}

async function runMicrosoft(suitesDir: string, work: string, server: Server): Promise<RequestResult[]> {
  const collection = JSON.parse(readFileSync(path.join(suitesDir, 'ms-scim-PostmanCollection.json'), 'utf8')) as { item: PostmanItem[] };
  // The "Get Token" folder asks a /Token endpoint of Microsoft's reference server and overwrites the token.
  collection.item = collection.item.filter((item) => item.name !== 'Get Token');
  // newman runs the requests in collection order: the n-th execution is the n-th request.
  const order: { folder: string; name: string }[] = [];
  const walk = (items: PostmanItem[], folder: string) => {
    for (const item of items) {
      if (item.item) walk(item.item, item.name);
      else order.push({ folder, name: item.name });
    }
  };
  walk(collection.item, '');
  const collectionFile = path.join(work, 'collection.json');
  const reportFile = path.join(work, 'newman.json');
  writeFileSync(collectionFile, JSON.stringify(collection));
  const newman = path.join(REPO, 'node_modules/newman/bin/newman.js');
  const run = spawnSync(
    process.execPath,
    [
      newman, 'run', collectionFile,
      '--env-var', 'Protocol=https', '--env-var', 'Server=localhost', '--env-var', `Port=:${server.port}`,
      '--env-var', 'Api=scim/v2', '--env-var', `token=${server.token}`,
      '--ssl-extra-ca-certs', server.certificateFile,
      '--reporters', 'json', '--reporter-json-export', reportFile,
    ],
    { encoding: 'utf8', timeout: 240_000 },
  );
  if (!existsSync(reportFile)) throw new Error(`newman produced no report: ${run.stderr}${run.stdout}`);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
    run: { executions: { item: { name: string }; response?: { code: number }; assertions?: { assertion: string; error?: { message: string } }[]; requestError?: { message: string } }[] };
  };
  const seen = new Map<string, number>();
  if (report.run.executions.length !== order.length) throw new Error(`newman ran ${report.run.executions.length} of ${order.length} requests: ${run.stdout.slice(-2000)}`);
  return report.run.executions.map((execution, index) => {
    const expected = order[index]!;
    if (expected.name !== execution.item.name) throw new Error(`newman ran "${execution.item.name}" where "${expected.name}" was expected`);
    const folder = expected.folder;
    const key = `${folder}\u0000${execution.item.name}`;
    const occurrence = (seen.get(key) ?? 0) + 1;
    seen.set(key, occurrence);
    const failures = [
      ...(execution.requestError ? [`request error: ${execution.requestError.message}`] : []),
      ...(execution.assertions ?? []).filter((a) => a.error).map((a) => `${a.assertion}: ${a.error!.message}`),
    ];
    const skipped = NON_RFC_REQUESTS.find((r) => r.folder === folder && r.name === execution.item.name && r.occurrence === occurrence);
    return { folder, name: execution.item.name, occurrence, status: execution.response?.code, failures, skipped };
  });
}

async function runOkta(suitesDir: string, server: Server): Promise<ConformanceReport['okta']> {
  const base = `https://localhost:${server.port}/scim/v2`;
  // The suite reads an existing user with a name and an email first.
  const seeded = await postJson(`${base}/Users`, server, {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'seed-agent@example.com',
    name: { givenName: 'Seed', familyName: 'Agent' },
    emails: [{ value: 'seed-agent@example.com', type: 'work', primary: true }],
    active: true,
  });
  if (seeded.status !== 201) throw new Error(`seeding the Okta suite's user failed: ${seeded.status} ${seeded.body}`);
  const run = spawnSync(
    process.execPath,
    [path.join(suitesDir, 'run-okta-suite.mjs'), path.join(suitesDir, 'Okta-SCIM-20-SPEC-Test.json'), '--base', base, '--auth', `Bearer ${server.token}`],
    { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: server.certificateFile }, timeout: 120_000 },
  );
  const summary = /(\d+) passed, (\d+) failed/.exec(run.stdout);
  if (!summary) throw new Error(`the Okta runner printed no summary: ${run.stdout}${run.stderr}`);
  return { passed: Number(summary[1]), failed: Number(summary[2]), output: run.stdout };
}

function postJson(url: string, server: Server, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const outgoing = httpsRequest(
      url,
      {
        method: 'POST',
        ca: readFileSync(server.certificateFile, 'utf8'),
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(text) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(text);
  });
}

/** Problems with a report: requests that failed, and skips that did not answer as documented. */
export function conformanceProblems(report: ConformanceReport): string[] {
  const problems: string[] = [];
  for (const result of report.microsoft) {
    if (result.skipped) {
      if (result.status !== result.skipped.expectedStatus) problems.push(`MS ${result.folder} / ${result.name}: skipped as non-RFC but answered ${result.status}, not ${result.skipped.expectedStatus}`);
    } else if (result.failures.length > 0) {
      problems.push(`MS ${result.folder} / ${result.name} (${result.status}): ${result.failures.join('; ')}`);
    }
  }
  if (report.okta.failed > 0 || report.okta.passed !== 12) problems.push(`Okta: ${report.okta.passed} passed, ${report.okta.failed} failed\n${report.okta.output}`);
  return problems;
}

async function main(): Promise<number> {
  const index = process.argv.indexOf('--suites');
  const suitesDir = index === -1 ? path.resolve(REPO, '../shared/conformance/scim') : path.resolve(process.argv[index + 1] ?? '');
  const report = await runScimConformance(suitesDir);
  for (const result of report.microsoft) {
    const verdict = result.skipped ? 'SKIP' : result.failures.length === 0 ? 'PASS' : 'FAIL';
    process.stdout.write(`${verdict} [MS ${result.folder} / ${result.name} -> ${result.status}]${result.skipped ? ` non-RFC: ${result.skipped.reason}` : ''}\n`);
    for (const failure of result.failures) if (!result.skipped) process.stdout.write(`     x ${failure}\n`);
  }
  process.stdout.write(report.okta.output);
  const problems = conformanceProblems(report);
  const msPassed = report.microsoft.filter((r) => !r.skipped && r.failures.length === 0).length;
  const msSkipped = report.microsoft.filter((r) => r.skipped).length;
  process.stdout.write(`Microsoft: ${msPassed} passed, ${report.microsoft.length - msPassed - msSkipped} failed, ${msSkipped} skipped (non-RFC)\n`);
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`scim-conformance: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
