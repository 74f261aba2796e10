import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ManualClock } from '../lib/common/clock.js';
import { agentJwt, openTask, orchestratorHeaders, provisionAgent, startTestIdp, testKeyPair, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { openDirectly, writeConfig } from './support/lifecycle-tools.js';
import type { AuditEntry } from '../lib/audit/index.js';

/** The seed's policy, verbatim, in a file of its own named by policyFile. */
const SEED_POLICY = `automaticRevocation:
  conditions:
    - taskStatus: COMPLETED
    - inactivityWindow: 300s
  actions:
    - revokeTokens: true
    - rotateCredentials: true
`;

function configWithPolicyFile(policy: string): string {
  const config = writeConfig('policyFile: cleanup-policy.yaml\n');
  writeFileSync(path.join(path.dirname(config), 'cleanup-policy.yaml'), policy);
  return config;
}

describe('cleanup policy: the sweeper applies automaticRevocation (injected clock)', function () {
  this.timeout(60_000);
  let clock: ManualClock;
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let agent: TestAgent;

  async function start(policy: string): Promise<void> {
    clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
    idp = await startTestIdp({ clock, env: { TESSERA_CONFIG: configWithPolicyFile(policy) } });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp);
  }
  afterEach(async () => idp.close());

  async function signOn(taskId: string, to: NodeSamlSp = sp, who: TestAgent = agent): Promise<HttpResult> {
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(to.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: who.credential.certPem, keyPem: who.credential.keyPem },
    });
  }

  function sessionIndexOf(response: HttpResult): string {
    assert.equal(response.status, 200, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    return /SessionIndex="([^"]+)"/.exec(xml)![1]!;
  }

  function statusMessage(response: HttpResult): string {
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    return /<samlp:StatusMessage>([^<]*)</.exec(xml)?.[1] ?? '';
  }

  async function audit(filter: { taskId?: string; agent?: string } = {}): Promise<AuditEntry[]> {
    await idp.running.idp.auditLog.flush();
    const all: AuditEntry[] = [];
    for await (const entry of idp.running.idp.store.audit.query(filter)) all.push(entry);
    return all;
  }

  it('task completion: the policy retires the agent certificate, so the next sign-on needs a newly registered one', async function () {
    await start(SEED_POLICY);
    const done = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const next = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const sessionIndex = sessionIndexOf(await signOn(done));

    const completed = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${done}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    assert.equal(completed.status, 200, completed.body);
    const report = await idp.running.idp.sweeper.sweep();
    assert.equal(report.taskEnds, 1);
    assert.equal(report.credentialsRetired, 1);
    assert.equal((await idp.running.idp.store.sessions.getBySessionIndex(sessionIndex))!.revokedAt !== undefined, true);

    const refused = await signOn(next);
    assert.equal(refused.status, 403);
    assert.match(statusMessage(refused), /^the agent certificate was retired at .+ \(policy:rotateCredentials after taskStatus\): register a new certificate$/);
    const jwtRefused = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': next, authorization: `Bearer ${await agentJwt(idp, agent, { iat: Math.floor(clock.now().getTime() / 1000) })}` },
    });
    assert.equal(jwtRefused.status, 403);
    assert.match(statusMessage(jwtRefused), /certificate was retired/);

    const retiredEntry = (await audit({ taskId: done })).find((e) => e.event === 'policy.credentials_retired');
    assert.ok(retiredEntry, 'the policy action is audited');
    assert.equal(retiredEntry.agentId, agent.id);
    assert.equal(retiredEntry.actor, 'policy');
    const details = JSON.parse(retiredEntry.details) as { condition: string; taskStatus: string; certificates: string[] };
    assert.equal(details.condition, 'taskStatus');
    assert.equal(details.taskStatus, 'COMPLETED');
    assert.equal(details.certificates.length, 1);
    const denied = (await audit({ taskId: next })).filter((e) => e.event === 'signon.denied').map((e) => e.reason);
    assert.deepEqual(denied, ['agent_credential_retired', 'agent_credential_retired']);

    // The orchestrator registers a new certificate (SCIM PATCH); it signs on.
    const rotated = await testKeyPair(`${agent.userName}-2`);
    const patched = await idp.request({
      method: 'PATCH',
      path: `/scim/v2/Users/${agent.id}`,
      headers: orchestratorHeaders(idp),
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'x509Certificates', value: [{ value: rotated.certBase64 }] }],
      }),
    });
    assert.ok(patched.status === 200 || patched.status === 204, patched.body);
    sessionIndexOf(await signOn(next, sp, { ...agent, credential: rotated }));
    const stillRetired = await signOn(next);
    assert.equal(stillRetired.status, 403, 'the retired certificate stays retired');
  });

  it('task completion through the policy revokes sessions still live when a task ended outside the Tasks API', async function () {
    await start(SEED_POLICY);
    const completed = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const failed = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const completedSession = sessionIndexOf(await signOn(completed));
    const failedSession = sessionIndexOf(await signOn(failed));
    // Another node or an operator ends both tasks directly in the database: nothing revokes their sessions there.
    const db = openDirectly(idp.dataDir);
    try {
      db.prepare(`UPDATE tasks SET status = 'COMPLETED', ended_at = ? WHERE id = ?`).run(clock.now().getTime(), completed);
      db.prepare(`UPDATE tasks SET status = 'FAILED', ended_at = ? WHERE id = ?`).run(clock.now().getTime(), failed);
    } finally {
      db.close();
    }
    const report = await idp.running.idp.sweeper.sweep();
    assert.equal(report.taskEnds, 2);
    assert.equal(report.taskRevoked, 1, 'only COMPLETED is listed by the policy');
    const revoked = (await idp.running.idp.store.sessions.getBySessionIndex(completedSession))!;
    assert.equal(revoked.revokeReason, 'policy:task_completed');
    assert.equal((await idp.running.idp.store.sessions.getBySessionIndex(failedSession))!.revokedAt, undefined);

    const entry = (await audit({ taskId: completed })).find((e) => e.event === 'policy.revoked');
    assert.equal(entry?.sessionId, revoked.id);
    assert.equal(entry?.assertionId, revoked.assertionId);
    assert.equal(entry?.modelHash, 'sha256:9f2c4e1b7a0d', 'with the agent provenance of that moment');
    const queued = (await idp.running.idp.store.logoutOutbox.list()).filter((d) => d.sessionId === revoked.id);
    assert.equal(queued.length, 1, 'the revoked session is handed to the back-channel logout fan-out');
    assert.equal(queued[0]!.reason, 'policy:task_completed');
    assert.equal((await idp.running.idp.sweeper.sweep()).taskEnds, 0, 'each task end is handled once');
  });

  it('inactivity window: sessions idle past it are revoked, refreshed ones are kept', async function () {
    await start(SEED_POLICY.replace('    - rotateCredentials: true\n', ''));
    const other = await registerNodeSamlSp(idp);
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const idle = sessionIndexOf(await signOn(taskId, sp));
    const busy = sessionIndexOf(await signOn(taskId, other));

    clock.advance(200);
    assert.equal(sessionIndexOf(await signOn(taskId, other)), busy, 'activity: a refresh of the same session');
    clock.advance(99);
    assert.equal((await idp.running.idp.sweeper.sweep()).idleRevoked, 0, 'idle 299 s: within the window');

    clock.advance(1); // a full window (300 s) without activity ends the session, as a lifetime does at NotOnOrAfter
    const report = await idp.running.idp.sweeper.sweep();
    assert.equal(report.idleRevoked, 1);
    assert.equal(report.credentialsRetired, 0, 'this policy does not rotate credentials');
    const revoked = (await idp.running.idp.store.sessions.getBySessionIndex(idle))!;
    assert.equal(revoked.revokeReason, 'policy:inactivity');
    assert.equal((await idp.running.idp.store.sessions.getBySessionIndex(busy))!.revokedAt, undefined);

    const entry = (await audit({ taskId })).find((e) => e.event === 'policy.revoked');
    assert.equal(entry?.sessionId, revoked.id);
    assert.equal((JSON.parse(entry!.details) as { condition: string }).condition, 'inactivityWindow');
    assert.equal((await idp.running.idp.store.logoutOutbox.list()).filter((d) => d.sessionId === revoked.id).length, 1);

    assert.notEqual(sessionIndexOf(await signOn(taskId, sp)), idle, 'signing on again starts a new session');
  });

  it('a session idle past the window is not refreshed even before the sweeper has run', async function () {
    await start(SEED_POLICY.replace('    - rotateCredentials: true\n', ''));
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'low' });
    const first = sessionIndexOf(await signOn(taskId));
    clock.advance(301);
    assert.notEqual(sessionIndexOf(await signOn(taskId)), first);
  });

  it('inactivity with rotateCredentials retires the idle agent certificates', async function () {
    await start(SEED_POLICY);
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'low' });
    sessionIndexOf(await signOn(taskId));
    clock.advance(301);
    const report = await idp.running.idp.sweeper.sweep();
    assert.equal(report.idleRevoked, 1);
    assert.equal(report.credentialsRetired, 1);
    const refused = await signOn(taskId);
    assert.equal(refused.status, 403);
    assert.match(statusMessage(refused), /retired .*\(policy:rotateCredentials after inactivityWindow\)/);
  });
});
