import assert from 'node:assert/strict';
import { SAML } from '@node-saml/node-saml';
import Database from 'better-sqlite3';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import {
  agentJwt,
  openTask,
  orchestratorHeaders,
  provisionAgent,
  startTestIdp,
  testKeyPair,
  type HttpResult,
  type TestAgent,
  type TestIdp,
} from './support/harness.js';
import { redirectRequestPath, registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

describe('sign-on refusals', function () {
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let db: Database.Database;

  before(async function () {
    idp = await startTestIdp();
    agent = await provisionAgent(idp);
    sp = await registerNodeSamlSp(idp, { signRequests: true });
    db = new Database(path.join(idp.dataDir, 'tessera.db'), { readonly: true, fileMustExist: true });
  });
  after(async () => {
    db.close();
    await idp.close();
  });

  const sessionCount = () => (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  const mtls = (who: TestAgent = agent) => ({ certPem: who.credential.certPem, keyPem: who.credential.keyPem });

  function initiate(taskId: string | undefined, extra: { headers?: Record<string, string>; clientCert?: { certPem: string; keyPem: string } | undefined; sp?: string } = {}) {
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(extra.sp ?? sp.entityId)}`,
      headers: { accept: 'application/json', ...(taskId !== undefined ? { 'task-id': taskId } : {}), ...extra.headers },
      ...(extra.clientCert ? { clientCert: extra.clientCert } : {}),
    });
  }

  /** A refusal sent back to the SP's ACS: a signed error Response with the given status codes and no assertion. */
  function assertSamlRefusal(response: HttpResult, httpStatus: number, top: string, second: string | undefined, message: RegExp): void {
    assert.equal(response.status, httpStatus, response.body);
    const body = response.json<{ acsUrl: string; SAMLResponse: string }>();
    assert.equal(body.acsUrl, sp.acsUrl);
    const xml = Buffer.from(body.SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}${top}"`));
    if (second) assert.match(xml, new RegExp(`StatusCode Value="${STATUS}${second}"`));
    assert.match(xml, message);
    assert.doesNotMatch(xml, /Assertion/);
  }

  /** A refusal with no trusted ACS: a JSON error, never a Response. */
  function assertPlainRefusal(response: HttpResult, httpStatus: number, code: string): void {
    assert.equal(response.status, httpStatus, response.body);
    const body = response.json<{ error: string; message: string; SAMLResponse?: string }>();
    assert.equal(body.error, code);
    assert.equal(body.SAMLResponse, undefined);
  }

  it('refuses an unknown SP without answering any ACS', async function () {
    const before = sessionCount();
    const stranger = new SAML({
      entryPoint: `${idp.baseUrl}/saml/sso`,
      issuer: 'https://unknown.example.test/saml',
      callbackUrl: 'https://unknown.example.test/acs',
      idpCert: idp.signingCertificatePem,
    });
    const url = new URL(await stranger.getAuthorizeUrlAsync('', undefined, {}));
    const taskId = await openTask(idp, { agent: agent.userName });
    const response = await idp.request({
      path: url.pathname + url.search,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: mtls(),
    });
    assertPlainRefusal(response, 400, 'saml_unknown_sp');
    assertPlainRefusal(await initiate(taskId, { clientCert: mtls(), sp: 'https://unknown.example.test/saml' }), 400, 'saml_unknown_sp');
    assert.equal(sessionCount(), before);
  });

  it('refuses an AuthnRequest whose ID could not be echoed in InResponseTo (not an NCName)', async function () {
    const unsigned = await registerNodeSamlSp(idp);
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
      `ID="1&quot;bad id" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${idp.baseUrl}/saml/sso">` +
      `<saml:Issuer>${unsigned.entityId}</saml:Issuer></samlp:AuthnRequest>`;
    const samlRequest = deflateRawSync(Buffer.from(xml)).toString('base64');
    const taskId = await openTask(idp, { agent: agent.userName });
    const response = await idp.request({
      path: `/saml/sso?SAMLRequest=${encodeURIComponent(samlRequest)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: mtls(),
    });
    assertPlainRefusal(response, 400, 'saml_malformed_request');
  });

  it("refuses an ACS that is not in the SP's metadata", async function () {
    const before = sessionCount();
    const spoofed = new SAML({
      entryPoint: `${idp.baseUrl}/saml/sso`,
      issuer: sp.entityId,
      callbackUrl: 'https://attacker.example.test/acs',
      idpCert: idp.signingCertificatePem,
      privateKey: sp.signingKeys!.keyPem,
      signatureAlgorithm: 'sha256',
    });
    const url = new URL(await spoofed.getAuthorizeUrlAsync('', undefined, {}));
    const taskId = await openTask(idp, { agent: agent.userName });
    const response = await idp.request({ path: url.pathname + url.search, headers: { accept: 'application/json', 'task-id': taskId }, clientCert: mtls() });
    assertPlainRefusal(response, 400, 'saml_acs_not_registered');
    assert.ok(!response.body.includes('attacker.example.test'), 'nothing is sent toward the unregistered ACS');
    assert.equal(sessionCount(), before);
  });

  it('refuses an unregistered client certificate', async function () {
    const before = sessionCount();
    const stranger = await testKeyPair('stranger');
    const taskId = await openTask(idp, { agent: agent.userName });
    const response = await initiate(taskId, { clientCert: { certPem: stranger.certPem, keyPem: stranger.keyPem } });
    assertSamlRefusal(response, 403, 'Responder', 'AuthnFailed', /client certificate is not registered/);
    assert.equal(sessionCount(), before);
  });

  it('refuses a request with no credential, and never a password', async function () {
    const taskId = await openTask(idp, { agent: agent.userName });
    assertSamlRefusal(await initiate(taskId), 403, 'Responder', 'AuthnFailed', /no agent credential/);
    const basic = `Basic ${Buffer.from(`${agent.userName}:hunter2`).toString('base64')}`;
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: basic } }), 403, 'Responder', 'AuthnFailed', /passwords are never accepted/);
  });

  it('refuses a JWT signed by an unregistered key', async function () {
    const before = sessionCount();
    const rogue = await testKeyPair('rogue');
    const taskId = await openTask(idp, { agent: agent.userName });
    const jwt = await agentJwt(idp, agent, { key: rogue.privateKey });
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${jwt}` } }), 403, 'Responder', 'AuthnFailed', /not signed by a key registered/);
    assert.equal(sessionCount(), before);
  });

  it('refuses an expired JWT and one that lives longer than 5 minutes', async function () {
    const before = sessionCount();
    const taskId = await openTask(idp, { agent: agent.userName });
    const now = Math.floor(Date.now() / 1000);
    const expired = await agentJwt(idp, agent, { iat: now - 600, exp: now - 300 });
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${expired}` } }), 403, 'Responder', 'AuthnFailed', /expired/);
    const longLived = await agentJwt(idp, agent, { iat: now, exp: now + 3600 });
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${longLived}` } }), 403, 'Responder', 'AuthnFailed', /at most 300 s/);
    const wrongAudience = await agentJwt(idp, agent, { aud: 'https://other-idp.example.test' });
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${wrongAudience}` } }), 403, 'Responder', 'AuthnFailed', /aud/);
    assert.equal(sessionCount(), before);
  });

  it('refuses an HMAC-signed JWT', async function () {
    const taskId = await openTask(idp, { agent: agent.userName });
    const { SignJWT } = await import('jose');
    const hmac = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(agent.userName)
      .setSubject(agent.userName)
      .setAudience(`${idp.baseUrl}/saml/metadata`)
      .setIssuedAt()
      .setExpirationTime('2m')
      .setJti('hmac-1')
      .sign(Buffer.from(agent.credential.certPem));
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${hmac}` } }), 403, 'Responder', 'AuthnFailed', /algorithm is not allowed|not signed/);
  });

  it('accepts a JWT once and refuses its replay', async function () {
    const taskId = await openTask(idp, { agent: agent.userName });
    const jwt = await agentJwt(idp, agent);
    const first = await initiate(taskId, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(first.status, 200, first.body);
    const before = sessionCount();
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${jwt}` } }), 403, 'Responder', 'AuthnFailed', /already been used/);
    assert.equal(sessionCount(), before);
  });

  it('accepts an AuthnRequest once and refuses its replay', async function () {
    const taskId = await openTask(idp, { agent: agent.userName });
    const requestPath = await redirectRequestPath(sp);
    const send = () => idp.request({ path: requestPath, headers: { accept: 'application/json', 'task-id': taskId }, clientCert: mtls() });
    assert.equal((await send()).status, 200);
    const before = sessionCount();
    assertSamlRefusal(await send(), 403, 'Requester', 'RequestDenied', /already/);
    assert.equal(sessionCount(), before);
  });

  it('refuses a missing, unknown or completed Task-ID', async function () {
    const before = sessionCount();
    assertSamlRefusal(await initiate(undefined, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /Task-ID header is required/);
    assertSamlRefusal(await initiate('00000000-0000-4000-8000-000000000000', { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /not name a known task/);
    const taskId = await openTask(idp, { agent: agent.userName });
    const ended = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    assert.equal(ended.status, 200);
    assertSamlRefusal(await initiate(taskId, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /task is completed/);
    assert.equal(sessionCount(), before);
  });

  it("refuses another agent's task", async function () {
    const other = await provisionAgent(idp);
    const othersTask = await openTask(idp, { agent: other.userName });
    const before = sessionCount();
    assertSamlRefusal(await initiate(othersTask, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /belongs to another agent/);
    assert.equal(sessionCount(), before);
  });

  it("refuses an SP outside the task's audiences", async function () {
    const elsewhere = await registerNodeSamlSp(idp);
    const taskId = await openTask(idp, { agent: agent.userName, audiences: [elsewhere.entityId] });
    const before = sessionCount();
    assertSamlRefusal(await initiate(taskId, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /audiences/);
    assert.equal(sessionCount(), before);
    const allowed = await initiate(taskId, { clientCert: mtls(), sp: elsewhere.entityId });
    assert.equal(allowed.status, 200, 'the listed SP is reachable');
  });

  it("refuses a source address outside the task's CIDRs", async function () {
    const taskId = await openTask(idp, { agent: agent.userName, context: { cidrs: ['10.0.0.0/8', '2001:db8::/32'] } });
    const before = sessionCount();
    assertSamlRefusal(await initiate(taskId, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /outside the task's CIDR/);
    assert.equal(sessionCount(), before);
    const loopbackTask = await openTask(idp, { agent: agent.userName, context: { cidrs: ['127.0.0.0/8'] } });
    assert.equal((await initiate(loopbackTask, { clientCert: mtls() })).status, 200);
  });

  it('refuses the very next sign-on once the task is completed', async function () {
    const taskId = await openTask(idp, { agent: agent.userName });
    assert.equal((await initiate(taskId, { clientCert: mtls() })).status, 200);
    const ended = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    assert.equal(ended.status, 200);
    assert.equal(ended.json<{ revokedSessions: number }>().revokedSessions, 1);
    assertSamlRefusal(await initiate(taskId, { clientCert: mtls() }), 403, 'Responder', 'RequestDenied', /completed/);
  });

  it('refuses the very next sign-on once the agent is deactivated', async function () {
    const doomed = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: doomed.userName });
    assert.equal((await initiate(taskId, { clientCert: mtls(doomed) })).status, 200);
    const patched = await idp.request({
      method: 'PATCH',
      path: `/scim/v2/Users/${doomed.id}`,
      headers: orchestratorHeaders(idp),
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    });
    assert.ok([200, 204].includes(patched.status), `PATCH answered ${patched.status}: ${patched.body}`);
    const before = sessionCount();
    const live = db.prepare('SELECT count(*) AS n FROM sessions WHERE agent_id = ? AND revoked_at IS NULL').get(doomed.id) as { n: number };
    assert.equal(live.n, 0, 'deactivation revoked the session');
    const response = await initiate(taskId, { clientCert: mtls(doomed) });
    assertSamlRefusal(response, 403, 'Responder', 'AuthnFailed', /deactivated/);
    const jwt = await agentJwt(idp, doomed);
    assertSamlRefusal(await initiate(taskId, { headers: { authorization: `Bearer ${jwt}` } }), 403, 'Responder', 'AuthnFailed', /deactivated/);
    assert.equal(sessionCount(), before);
  });
});
