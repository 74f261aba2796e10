import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../lib/store/database.js';
import { SqliteRiskRepository } from '../lib/store/sqlite-risk.js';
import type { AgentBaseline, RiskEvent } from '../lib/risk/baseline.js';
import { openTask, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * Every allowed sign-on is learnt into the agent's risk baseline exactly once,
 * however many of the agent's sign-ons run at the same time (several tasks, one
 * agent, one or more IdP processes). Learning used to write back the snapshot
 * each sign-on had read before scoring: of sign-ons whose read and write
 * overlapped only the last write stayed (in the two-worker bench, 1,145 of
 * about 8,000 sign-ons were learnt). The overlap across processes is timing;
 * the repository test below makes it certain with two connections.
 */

function storedBaseline(dataDir: string, agentId: string): AgentBaseline | undefined {
  const db = openDatabase(dataDir);
  try {
    const state = db.prepare<[string], string>('SELECT state FROM agent_baselines WHERE agent_id = ?').pluck().get(agentId);
    return state === undefined ? undefined : (JSON.parse(state) as AgentBaseline);
  } finally {
    db.close();
  }
}

describe('risk baseline under concurrent sign-ons', function () {
  this.timeout(60_000);

  describe('over HTTPS', () => {
    let idp: TestIdp;
    let agent: TestAgent;
    let sp: NodeSamlSp;

    beforeEach(async () => {
      ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
    });
    afterEach(async () => idp.close());

    it('learns each of 40 simultaneous sign-ons of one agent once', async () => {
      const tasks = await Promise.all(Array.from({ length: 4 }, () => openTask(idp, { agent: agent.userName, audiences: [sp.entityId] })));
      // Connections opened first, as a busy agent holds them: the sign-ons then reach the IdP together.
      const connections = new HttpsAgent({
        keepAlive: true,
        maxSockets: 20,
        ca: idp.tlsCertificatePem,
        servername: 'localhost',
        cert: agent.credential.certPem,
        key: agent.credential.keyPem,
      });
      const get = (requestPath: string, headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const outgoing = httpsRequest({ host: '127.0.0.1', port: idp.port, path: requestPath, headers, agent: connections }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          });
          outgoing.on('error', reject);
          outgoing.end();
        });
      try {
        await Promise.all(Array.from({ length: 20 }, () => get('/healthz', {})));
        const signOns = 40;
        const statuses = await Promise.all(
          Array.from({ length: signOns }, (_, i) =>
            get(`/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`, { 'task-id': tasks[i % tasks.length]!, accept: 'application/json' }),
          ),
        );
        assert.deepEqual(statuses, new Array<number>(signOns).fill(200));
      } finally {
        connections.destroy();
      }
      const signOns = 40;
      const baseline = storedBaseline(idp.dataDir, agent.id);
      assert.ok(baseline);
      assert.equal(baseline.n, signOns, 'every allowed sign-on is learnt');
      // Each event decays the hour histogram by 0.998, then counts itself: 40 events sum to about 38.45.
      const expectedHours = (1 - 0.998 ** signOns) / (1 - 0.998);
      const hours = baseline.hours.reduce((sum, count) => sum + count, 0);
      assert.ok(Math.abs(hours - expectedHours) < 0.05, `the hour histogram holds ${hours}, not ${expectedHours.toFixed(2)}`);
    });
  });

  describe('SqliteRiskRepository over a real SQLite file', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-risk-learning-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('applies each event to the baseline as stored when it is written, whichever connection wrote last', async () => {
      const one = openDatabase(dir);
      const other = openDatabase(dir);
      try {
        const here = new SqliteRiskRepository(one);
        const elsewhere = new SqliteRiskRepository(other);
        const sp = 'https://sp.example.test/saml';
        const event = (minute: number, network: string): RiskEvent => ({ at: new Date(Date.UTC(2026, 10, 30, 9, minute)), spEntityId: sp, network, scopes: ['invoices:read'] });
        // Both processes read the same (empty) snapshot before either writes, as concurrent sign-ons do.
        const [a, b] = await Promise.all([here.load('agent-1', [], sp), elsewhere.load('agent-1', [], sp)]);
        assert.equal(a.baseline.n, 0);
        assert.equal(b.baseline.n, 0);
        await here.learn('agent-1', event(0, '192.0.2.0/24'), ['role-a'], sp);
        await elsewhere.learn('agent-1', event(1, '198.51.100.0/24'), [], sp);
        await here.learn('agent-1', event(2, '192.0.2.0/24'), [], sp);
        const after = await here.load('agent-1', ['role-a'], sp);
        assert.equal(after.baseline.n, 3);
        assert.deepEqual(Object.keys(after.baseline.networks).sort(), ['192.0.2.0/24', '198.51.100.0/24'], 'both networks were learnt');
        assert.equal(after.baseline.gapN, 2, 'the gaps between the three events');
        assert.equal(after.spUsedByRoles, true, 'the role learnt the SP');
      } finally {
        other.close();
        one.close();
      }
    });

    it('storeBaseline replaces the baseline outright', async () => {
      const db = openDatabase(dir);
      try {
        const risk = new SqliteRiskRepository(db);
        await risk.learn('agent-2', { at: new Date(), spEntityId: 'https://sp.example.test/saml', network: '192.0.2.0/24', scopes: [] }, [], 'https://sp.example.test/saml');
        const replacement = (await risk.load('agent-3', [], 'x')).baseline;
        replacement.n = 41;
        await risk.storeBaseline('agent-2', replacement, new Date());
        assert.equal((await risk.load('agent-2', [], 'x')).baseline.n, 41);
      } finally {
        db.close();
      }
    });
  });
});
