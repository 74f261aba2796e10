import { strict as assert } from 'node:assert';
import { openDatabase, type SqliteDatabase } from '../lib/store/database.js';
import { idpInitiatedSignOn, openTask, orchestratorHeaders, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { allowAuditOf, refuseAuditOf } from './support/audit-faults.js';

/*
 * Deprovisioning and its audit record commit together: the agent.deactivated or
 * agent.deleted entry is appended in the transaction that revokes the agent's
 * sessions, cancels its tasks and queues their logouts. If the record cannot be
 * written, nothing of the deprovisioning happens and the orchestrator is told so;
 * before, the revocation committed first and a failed append left it unaudited.
 * The failure is injected the way a full disk or a broken audit table would show:
 * a trigger, created through another connection, refuses that one audit insert.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('deprovisioning is audited in its own transaction', function () {
  this.timeout(30_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let db: SqliteDatabase;
  let task: string;

  beforeEach(async () => {
    ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
    db = openDatabase(idp.dataDir);
    task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    assert.equal((await signOn()).status, 200);
  });
  afterEach(async () => {
    db.close();
    await idp.close();
  });

  const signOn = () => idpInitiatedSignOn(idp, agent, sp.entityId, task);
  const deactivate = () =>
    idp.request({
      method: 'PATCH',
      path: `/scim/v2/Users/${agent.id}`,
      headers: orchestratorHeaders(idp),
      body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
    });
  const remove = () => idp.request({ method: 'DELETE', path: `/scim/v2/Users/${agent.id}`, headers: orchestratorHeaders(idp) });

  const state = () => ({
    agentActive: db.prepare<[string], { active: number }>('SELECT active FROM agents WHERE id = ?').get(agent.id)?.active,
    liveSessions: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM sessions WHERE agent_id = ? AND revoked_at IS NULL').get(agent.id)!.n,
    openTasks: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM tasks WHERE agent_id = ? AND status = 'OPEN'").get(agent.id)!.n,
    queuedLogouts: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM logout_outbox WHERE agent_id = ?').get(agent.id)!.n,
  });
  const auditedAs = (event: string) =>
    db
      .prepare<[string, string], { seq: number; details: string; prev_hash: string }>('SELECT seq, details, prev_hash FROM audit_log WHERE event = ? AND agent_id = ?')
      .all(event, agent.id);
  const chainLinks = (seq: number): boolean => {
    const [before, entry] = db.prepare<[number, number], { hash: string; prev_hash: string }>('SELECT hash, prev_hash FROM audit_log WHERE seq IN (?, ?) ORDER BY seq').all(seq - 1, seq);
    return entry !== undefined && before !== undefined && entry.prev_hash === before.hash;
  };

  it('a deactivation whose record cannot be written changes nothing, and succeeds with its record once it can', async () => {
    const before = state();
    assert.deepEqual(before, { agentActive: 1, liveSessions: 1, openTasks: 1, queuedLogouts: 0 });

    refuseAuditOf(db, 'agent.deactivated');
    const refused = await deactivate();
    assert.equal(refused.status, 500, refused.body);
    assert.deepEqual(state(), before, 'no revocation, cancellation or logout without its record');
    assert.deepEqual(auditedAs('agent.deactivated'), []);
    assert.equal((await signOn()).status, 200, 'the agent is still what the directory says: active');

    allowAuditOf(db, 'agent.deactivated');
    const done = await deactivate();
    assert.equal(done.status, 204, done.body);
    assert.deepEqual(state(), { agentActive: 0, liveSessions: 0, openTasks: 0, queuedLogouts: 1 });
    const [entry, ...more] = auditedAs('agent.deactivated');
    assert.ok(entry);
    assert.equal(more.length, 0);
    const details = JSON.parse(entry.details) as { revokedSessions: string[]; cancelledTasks: string[] };
    assert.equal(details.revokedSessions.length, 1);
    assert.deepEqual(details.cancelledTasks, [task]);
    assert.ok(chainLinks(entry.seq), 'the entry extends the hash chain');
    assert.equal((await signOn()).status, 403);
  });

  it('a deletion whose record cannot be written leaves the agent in place', async () => {
    refuseAuditOf(db, 'agent.deleted');
    const refused = await remove();
    assert.equal(refused.status, 500, refused.body);
    assert.deepEqual(state(), { agentActive: 1, liveSessions: 1, openTasks: 1, queuedLogouts: 0 });
    assert.equal((await idp.request({ path: `/scim/v2/Users/${agent.id}`, headers: orchestratorHeaders(idp) })).status, 200);

    allowAuditOf(db, 'agent.deleted');
    assert.equal((await remove()).status, 204);
    assert.equal(state().agentActive, undefined, 'deleted');
    const [entry] = auditedAs('agent.deleted');
    assert.ok(entry);
    assert.ok(chainLinks(entry.seq));
  });
});
