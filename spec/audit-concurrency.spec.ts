import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { agentJwt, openTask, provisionAgent, startTestIdp, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp } from './support/node-saml-sp.js';
import { tessera } from './support/lifecycle-tools.js';

const WORKER = fileURLToPath(new URL('./support/audit-append-worker.js', import.meta.url));

function runWorker(dataDir: string, count: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, dataDir, String(count), name], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${name} exited ${code}: ${stderr}`))));
  });
}

describe('audit trail with several writing processes', function () {
  this.timeout(120_000);
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp();
  });
  after(async () => idp.close());

  it('keeps one contiguous, verifiable chain while two other processes append during sign-ons', async function () {
    const sp = await registerNodeSamlSp(idp);
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const signOns = async (n: number) => {
      for (let i = 0; i < n; i += 1) {
        const response = await idp.request({
          path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
          headers: { accept: 'application/json', 'task-id': taskId, authorization: `Bearer ${await agentJwt(idp, agent)}` },
        });
        assert.equal(response.status, 200, response.body);
      }
    };
    const before = (await idp.running.idp.store.audit.head()).seq;
    await Promise.all([runWorker(idp.dataDir, 300, 'a'), runWorker(idp.dataDir, 300, 'b'), signOns(40)]);
    await idp.running.idp.auditLog.flush();

    const seqs: number[] = [];
    const writers = new Map<string, number[]>();
    for await (const entry of idp.running.idp.store.audit.query({})) {
      seqs.push(entry.seq);
      const details = JSON.parse(entry.details) as { writer?: string; i?: number };
      if (details.writer) writers.set(details.writer, [...(writers.get(details.writer) ?? []), details.i!]);
    }
    assert.equal(seqs.length, before + 600 + 40);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'no gaps and no repeats');
    for (const name of ['a', 'b']) {
      assert.deepEqual(writers.get(name), Array.from({ length: 300 }, (_, i) => i), `writer ${name}'s entries, all and in order`);
    }
    const entries = new Set<string>();
    for await (const entry of idp.running.idp.store.audit.query({})) entries.add(entry.actor);
    assert.ok(entries.has('admin:a') && entries.has('admin:b') && entries.has(`agent:${agent.userName}`), 'writers interleaved in one chain');

    const verified = tessera(['audit', 'verify', '--data-dir', idp.dataDir]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`^audit log intact: ${before + 640} entries`));
  });
});
