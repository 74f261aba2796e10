import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * A cluster worker's scrape when the primary does not answer: it fails with
 * metrics_unavailable (503 at /metrics) instead of serving this worker's
 * share as if it were the whole. The answered path runs in cluster.spec.ts.
 */

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'support', 'metrics-worker-fixture.js');

interface Outcome {
  readonly outcome: 'served' | 'failed';
  readonly code?: string;
  readonly text?: string;
}

describe('cluster metrics: a worker whose primary is silent', function () {
  it('fails the scrape as metrics_unavailable after its timeout', async function () {
    const child = fork(FIXTURE, [], { env: { ...process.env, SCRAPE_TIMEOUT_MS: '300' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const requests: unknown[] = [];
    const started = Date.now();
    const outcome = await new Promise<Outcome>((resolve, reject) => {
      child.on('message', (message: unknown) => {
        if (typeof message === 'object' && message !== null && 'outcome' in message) resolve(message as Outcome);
        else requests.push(message);
      });
      child.once('exit', (code) => reject(new Error(`the fixture exited (${String(code)}) without an outcome`)));
    });
    child.kill();
    assert.equal(outcome.outcome, 'failed');
    assert.equal(outcome.code, 'metrics_unavailable');
    assert.ok(Date.now() - started >= 300, 'it waited for the primary first');
    assert.deepEqual(requests, [{ type: 'tessera:metrics:scrape', id: 0 }], 'it asked the primary once');
  });
});
