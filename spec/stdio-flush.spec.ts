import { strict as assert } from 'node:assert';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { chainedAuditLog } from '../lib/audit/index.js';
import { silentLogger } from '../lib/common/log.js';
import { openSqliteStore } from '../lib/store/index.js';
import { freePort } from './support/harness.js';
import { CLI } from './support/lifecycle-tools.js';

/*
 * Output read through a pipe by a reader slower than Tessera: a log shipper,
 * `docker logs`, `tessera audit export | gzip`. A pipe takes 64 KiB at a time
 * and Node queues the rest in the process, so an exit that does not wait for
 * that queue cuts the output short. Both readers here start reading only after
 * the exit would have happened.
 */

/** Everything the child writes to stdout, read only from `readAfterMs` on; resolves at the child's exit. */
function slowlyRead(child: ChildProcessByStdio<null, Readable, Readable>, readAfterMs: number): Promise<{ stdout: string; code: number | null }> {
  child.stdout.pause();
  const chunks: Buffer[] = [];
  setTimeout(() => {
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stdout.resume();
  }, readAfterMs);
  return new Promise((resolve) => child.once('close', (code) => resolve({ stdout: Buffer.concat(chunks).toString('utf8'), code })));
}

describe('output through a slow pipe is complete at exit', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const scratch = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-stdio-'));
    dirs.push(dir);
    return dir;
  };
  after(function () {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const entries = 2_000;
  let auditDir: string;
  before(async function () {
    auditDir = scratch();
    const store = openSqliteStore(auditDir);
    try {
      const audit = chainedAuditLog({ store: store.audit, clock: { now: () => new Date() }, logger: silentLogger });
      // Recorded without awaiting each: the audit log writes a turn's entries in one transaction.
      await Promise.all(
        Array.from({ length: entries }, (_, i) =>
          audit.record({ event: 'task.opened', actor: 'orchestrator:stdio-spec', details: { padding: 'p'.repeat(300), i } }),
        ),
      );
    } finally {
      store.close();
    }
  });

  it('tessera audit export writes every entry, ~1 MB of them, before it exits', async function () {
    const child = spawn(process.execPath, [CLI, 'audit', 'export', '--data-dir', auditDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { stdout, code } = await slowlyRead(child, 1_000);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.ok(stdout.length > 600_000, `the export is large enough to overrun a pipe (${stdout.length} bytes)`);
    assert.equal(lines.length, entries);
    assert.equal((JSON.parse(lines.at(-1)!) as { seq: number }).seq, entries, 'the last entry is there, whole');
  });

  it('tessera audit export | head: stops quietly with status 0 when the reader leaves', async function () {
    const child = spawn(process.execPath, [CLI, 'audit', 'export', '--data-dir', auditDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.ok(first.startsWith('{'), first.slice(0, 80));
    assert.equal(code, 0);
    assert.equal(stderr, '');
  });

  it('a stopping server writes its last log lines before it exits', async function () {
    const dataDir = scratch();
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: { PATH: process.env.PATH ?? '', TESSERA_DATA_DIR: dataDir, TESSERA_PORT: String(port), TESSERA_WORKERS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
    };
    child.stdout.on('data', onData);
    const deadline = Date.now() + 30_000;
    while (!seen.includes('"server.listening"')) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`the server did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.stdout.off('data', onData);
    const exited = slowlyRead(child, 1_500);

    const ca = readFileSync(path.join(dataDir, 'tls-certificate.pem'), 'utf8');
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const requests = 1_200;
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', servername: 'localhost', port, ca, agent, path: '/healthz' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < requests; i += 4) {
      assert.deepEqual(await Promise.all([get(), get(), get(), get()]), [200, 200, 200, 200]);
    }
    agent.destroy();
    // Answered, so logged: the lines are in the server's stdout queue, which nobody reads yet.
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    const { stdout, code } = await exited;
    assert.equal(code, 0, stderr);
    const logged = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; path?: string });
    assert.ok(stdout.length > 2 * 65_536, `more than a pipe holds was pending (${stdout.length} bytes)`);
    assert.equal(logged.filter((l) => l.event === 'http.request' && l.path === '/healthz').length, requests);
  });
});
