import assert from 'node:assert/strict';
import type { AuditEntry } from '../lib/audit/audit-entry.js';
import { emptyBaseline, observe } from '../lib/risk/baseline.js';
import { openTask, provisionAgent, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { createTestCa, metadataCertificates, registerSp, startSoapSp, startTrustingIdp, waitFor, type SoapSp, type TestCa } from './support/loopback-sp.js';

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const HOUR = 3_600_000;

describe('risk revoke: a sign-on unlike the agent ends all its sessions, with back-channel logout', function () {
  let ca: TestCa;
  let idp: TestIdp;
  let agent: TestAgent;
  const sps: SoapSp[] = [];

  before(async function () {
    ca = await createTestCa();
    idp = await startTrustingIdp({ trustedCa: ca.certificatePem });
    const certificates = await metadataCertificates(idp);
    for (let i = 0; i < 3; i += 1) {
      const sp = await startSoapSp(ca, () => certificates);
      await registerSp(idp, sp.metadataXml());
      sps.push(sp);
    }
    agent = await provisionAgent(idp);
  });
  after(async function () {
    for (const sp of sps) await sp.close();
    await idp.close();
  });

  const signOn = (sp: SoapSp, taskId: string): Promise<HttpResult> =>
    idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });

  const samlXml = (response: HttpResult) => Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');

  it('revokes, sends signed LogoutRequests to every SP the agent was signed on to, then holds the agent for review', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read'] });
    // A new agent has no baseline yet: it is learnt, not judged.
    const indexes: string[] = [];
    for (const sp of sps.slice(0, 2)) {
      const response = await signOn(sp, taskId);
      assert.equal(response.status, 200, response.body);
      indexes.push(/SessionIndex="([^"]+)"/.exec(samlXml(response))![1]!);
    }

    // A week of this agent elsewhere: another network, another SP, another scope, at the other end of the day.
    const now = Date.now();
    const habit = emptyBaseline();
    for (let i = 0; i < 60; i += 1) {
      observe(habit, {
        at: new Date(now - 7 * 24 * HOUR + Math.floor(i / 10) * 24 * HOUR + 12 * HOUR + (i % 10) * 120_000),
        spEntityId: 'https://elsewhere.example.test/saml',
        network: '198.51.100.0/24',
        scopes: ['reports:read'],
      });
    }
    await idp.running.idp.store.risk.storeBaseline(agent.id, habit, new Date(now));

    const revoked = await signOn(sps[2]!, taskId);
    assert.equal(revoked.status, 403, revoked.body);
    const xml = samlXml(revoked);
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}RequestDenied"`));
    assert.doesNotMatch(xml, /Assertion/);
    assert.doesNotMatch(xml, /risk|network|scope/i, 'the reasons stay in the audit log');

    for (const [i, sp] of sps.slice(0, 2).entries()) {
      const logout = await waitFor(`a LogoutRequest at SP ${i}`, () => sp.received.find((r) => r.sessionIndex === indexes[i]), 5_000);
      assert.equal(logout.signatureValid, true, 'signed by the IdP key in its metadata');
      assert.equal(logout.nameId, agent.userName);
      assert.equal(logout.reason, 'urn:oasis:names:tc:SAML:2.0:logout:admin');
    }
    assert.equal(sps[2]!.received.length, 0, 'no session was opened at the SP of the refused sign-on');
    assert.deepEqual(await idp.running.idp.store.sessions.listLiveForAgent(agent.id, new Date()), []);

    await idp.running.idp.auditLog.flush();
    const entries: AuditEntry[] = [];
    for await (const entry of idp.running.idp.store.audit.query({ taskId })) entries.push(entry);
    const decision = entries.find((e) => e.event === 'policy.revoke');
    assert.ok(decision, entries.map((e) => e.event).join(','));
    assert.equal(decision.reason, 'risk_revoke');
    const details = JSON.parse(decision.details) as { riskScore: number; contributions: Array<{ signal: string; explanation: string }>; revokedSessions: string[] };
    assert.ok(details.riskScore >= 0.9, String(details.riskScore));
    assert.deepEqual(
      details.contributions.map((c) => c.signal).sort(),
      ['new_network', 'new_scope', 'sp_outside_roles', 'unusual_hour'],
    );
    assert.ok(details.contributions.some((c) => /new source network 127\.0\.0\.0\/24/.test(c.explanation)));
    assert.equal(details.revokedSessions.length, 2);

    // Until the owner reviews it, the agent stays held: its next sign-on is refused again, the hold among the reasons.
    const next = await signOn(sps[0]!, taskId);
    assert.equal(next.status, 403, next.body);
    await idp.running.idp.auditLog.flush();
    const later: AuditEntry[] = [];
    for await (const entry of idp.running.idp.store.audit.query({ taskId })) later.push(entry);
    const last = later.filter((e) => e.event.startsWith('policy.')).at(-1)!;
    const reasons = (JSON.parse(last.details) as { reasons: Array<{ code: string }> }).reasons.map((r) => r.code);
    assert.ok(reasons.includes('held_after_revoke'), reasons.join(','));
    assert.equal(sps[0]!.received.length, 1, 'nothing more to log out: no session was opened');
  });
});
