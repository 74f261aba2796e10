import assert from 'node:assert/strict';
import { rmSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTask, orchestratorHeaders, provisionAgent, type TestAgent, type TestIdp } from './support/harness.js';
import { createTestCa, metadataCertificates, registerSp, startSoapSp, startTrustingIdp, waitFor, type SoapSp, type TestCa } from './support/loopback-sp.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** IdP-initiated sign-on with the agent's client certificate; returns the SessionIndex the SP now holds. */
async function signOn(idp: TestIdp, agent: TestAgent, sp: SoapSp, taskId: string): Promise<string> {
  const response = await idp.request({
    path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
    headers: { accept: 'application/json', 'task-id': taskId },
    clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
  });
  assert.equal(response.status, 200, response.body);
  const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
  return /SessionIndex="([^"]+)"/.exec(xml)![1]!;
}

async function deactivate(idp: TestIdp, agent: TestAgent): Promise<void> {
  const response = await idp.request({
    method: 'PATCH',
    path: `/scim/v2/Users/${agent.id}`,
    headers: orchestratorHeaders(idp),
    body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }),
  });
  assert.equal(response.status, 204, response.body);
}

describe('one-call deprovisioning: back-channel logout to every SP', function () {
  let ca: TestCa;
  let idp: TestIdp;
  let certificates: string[] = [];
  const sps: SoapSp[] = [];

  before(async function () {
    ca = await createTestCa();
  });
  beforeEach(async function () {
    idp = await startTrustingIdp({ trustedCa: ca.certificatePem });
    certificates = await metadataCertificates(idp);
    sps.length = 0;
    for (let i = 0; i < 3; i += 1) {
      const sp = await startSoapSp(ca, () => certificates);
      await registerSp(idp, sp.metadataXml());
      sps.push(sp);
    }
  });
  afterEach(async function () {
    for (const sp of sps) await sp.close();
    await idp.close();
  });

  it('delivers a signed LogoutRequest to each of three SPs within 1 s of deactivation, and refuses the next sign-on', async function () {
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const indexes: string[] = [];
    for (const sp of sps) indexes.push(await signOn(idp, agent, sp, taskId));

    const started = Date.now();
    await deactivate(idp, agent);
    await waitFor('three LogoutRequests', () => (sps.every((sp) => sp.received.length === 1) ? true : undefined), 2_000);
    console.log(`      LogoutRequest arrival after the start of PATCH active=false: ${sps.map((sp) => sp.received[0]!.receivedAt - started).join(', ')} ms`);
    sps.forEach((sp, i) => {
      const logout = sp.received[0]!;
      assert.ok(logout.receivedAt - started <= 1_000, `SP ${i + 1} got its LogoutRequest ${logout.receivedAt - started} ms after the request`);
      assert.equal(logout.signatureValid, true, 'xml-crypto verifies the signature with the IdP metadata certificate');
      assert.equal(logout.nameId, agent.userName);
      assert.equal(logout.sessionIndex, indexes[i]);
      assert.equal(logout.issuer, `${idp.baseUrl}/saml/metadata`);
      assert.equal(logout.destination, sp.sloUrl);
      assert.equal(logout.reason, 'urn:oasis:names:tc:SAML:2.0:logout:admin');
    });
    const deliveries = await waitFor(
      'the outbox to record the deliveries',
      async () => {
        const rows = await idp.running.idp.store.logoutOutbox.list();
        return rows.every((row) => row.state === 'delivered') ? rows : undefined;
      },
      1_000,
    );
    assert.equal(deliveries.length, 3);
    const refused = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sps[0]!.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(refused.status, 403, refused.body);
  });

  it('delivers to an SP that was down once it comes back', async function () {
    this.timeout(20_000);
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    for (const sp of sps) await signOn(idp, agent, sp, taskId);
    const [first, down, third] = sps as [SoapSp, SoapSp, SoapSp];
    await down.down();

    await deactivate(idp, agent);
    await waitFor('the two SPs that are up', () => (first.received.length === 1 && third.received.length === 1 ? true : undefined), 2_000);
    const pending = await waitFor(
      'a failed attempt',
      async () => (await idp.running.idp.store.logoutOutbox.list()).find((d) => d.spEntityId === down.entityId && d.attempts >= 1),
      5_000,
    );
    assert.equal(pending.state, 'pending');
    assert.equal(down.received.length, 0);

    await down.up();
    await waitFor('the LogoutRequest to the SP that came back', () => (down.received.length === 1 ? true : undefined), 10_000);
    assert.equal(down.received[0]!.signatureValid, true);
    assert.equal(down.received[0]!.nameId, agent.userName);
  });

  it('delivers to an SP that was down across an IdP restart', async function () {
    this.timeout(20_000);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-restart-'));
    await idp.close();
    idp = await startTrustingIdp({ trustedCa: ca.certificatePem, dataDir });
    certificates = await metadataCertificates(idp);
    for (const sp of sps) await registerSp(idp, sp.metadataXml());
    try {
      const agent = await provisionAgent(idp);
      const taskId = await openTask(idp, { agent: agent.userName });
      const down = sps[1]!;
      for (const sp of sps) await signOn(idp, agent, sp, taskId);
      await down.down();
      await deactivate(idp, agent);
      await waitFor(
        'a failed attempt',
        async () => (await idp.running.idp.store.logoutOutbox.list()).find((d) => d.spEntityId === down.entityId && d.attempts >= 1),
        5_000,
      );
      await idp.close();

      await down.up();
      assert.equal(down.received.length, 0);
      idp = await startTrustingIdp({ trustedCa: ca.certificatePem, dataDir });
      const started = Date.now();
      await waitFor('the LogoutRequest after the restart', () => (down.received.length === 1 ? true : undefined), 5_000);
      assert.ok(down.received[0]!.receivedAt - started < 1_000, `resumed at start, not after the backoff (${down.received[0]!.receivedAt - started} ms)`);
      assert.equal(down.received[0]!.signatureValid, true);
      await waitFor(
        'every delivery recorded',
        async () => ((await idp.running.idp.store.logoutOutbox.list()).every((row) => row.state === 'delivered') ? true : undefined),
        1_000,
      );
    } finally {
      await idp.close();
      idp = await startTrustingIdp({ trustedCa: ca.certificatePem });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('verifies the SP’s TLS certificate: an SP with a certificate from an untrusted CA gets nothing', async function () {
    const strangerCa = await createTestCa();
    const untrusted = await startSoapSp(strangerCa, () => certificates);
    sps.push(untrusted);
    await registerSp(idp, untrusted.metadataXml());
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    await signOn(idp, agent, untrusted, taskId);
    await deactivate(idp, agent);
    const failed = await waitFor(
      'a refused TLS handshake',
      async () => (await idp.running.idp.store.logoutOutbox.list()).find((d) => d.spEntityId === untrusted.entityId && d.attempts >= 1),
      3_000,
    );
    assert.equal(failed.state, 'pending');
    assert.match(failed.lastError ?? '', /certificate/i);
    assert.equal(untrusted.received.length, 0);
  });

  it('fans out the same way when a task is completed, to that task’s SPs only', async function () {
    const agent = await provisionAgent(idp);
    const finished = await openTask(idp, { agent: agent.userName });
    const ongoing = await openTask(idp, { agent: agent.userName });
    const index = await signOn(idp, agent, sps[0]!, finished);
    await signOn(idp, agent, sps[1]!, ongoing);

    const ended = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${finished}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    assert.equal(ended.status, 200, ended.body);
    await waitFor('the task’s SP logout', () => (sps[0]!.received.length === 1 ? true : undefined), 2_000);
    assert.equal(sps[0]!.received[0]!.sessionIndex, index);
    assert.equal(sps[0]!.received[0]!.signatureValid, true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(sps[1]!.received.length, 0, 'the other task’s session is untouched');
  });

  it('deleting an agent logs it out everywhere too; SPs without a SOAP endpoint are skipped', async function () {
    const plain = await startSoapSp(ca, () => certificates);
    sps.push(plain);
    await registerSp(idp, plain.metadataXml().replace(/<md:SingleLogoutService[^>]*\/>/, ''));
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    await signOn(idp, agent, sps[0]!, taskId);
    await signOn(idp, agent, plain, taskId);
    const deleted = await idp.request({ method: 'DELETE', path: `/scim/v2/Users/${agent.id}`, headers: orchestratorHeaders(idp) });
    assert.equal(deleted.status, 204);
    await waitFor('the logout', () => (sps[0]!.received.length === 1 ? true : undefined), 2_000);
    const deliveries = await waitFor(
      'both deliveries settled',
      async () => {
        const rows = await idp.running.idp.store.logoutOutbox.list();
        return rows.every((row) => row.state !== 'pending') ? rows : undefined;
      },
      2_000,
    );
    assert.deepEqual(deliveries.map((d) => d.state).sort(), ['delivered', 'skipped']);
    assert.equal(plain.received.length, 0);
  });
});
