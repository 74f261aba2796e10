import assert from 'node:assert/strict';
import type { Profile } from '@node-saml/node-saml';
import { agentJwt, openTask, provisionAgent, startTestIdp, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { decodeHtml, postRequestFields, redirectRequestPath, registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

type AuthMethod = 'mtls' | 'jwt';

/** The agent's credential on a request: a client certificate, or a fresh JWT. */
interface Credential {
  readonly headers: Record<string, string>;
  readonly clientCert?: { certPem: string; keyPem: string };
}

async function credentialFor(idp: TestIdp, agent: TestAgent, method: AuthMethod): Promise<Credential> {
  return method === 'mtls'
    ? { clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem }, headers: {} }
    : { headers: { authorization: `Bearer ${await agentJwt(idp, agent)}` } };
}

interface SignOnJson {
  acsUrl: string;
  SAMLResponse: string;
  RelayState?: string;
}

function attribute(profile: Profile, name: string): unknown {
  return (profile as Record<string, unknown>)[name];
}

describe('sign-on with an independent SP (node-saml)', function () {
  let idp: TestIdp;
  let agent: TestAgent;
  let spRedirect: NodeSamlSp;
  let spPost: NodeSamlSp;

  before(async function () {
    idp = await startTestIdp();
    agent = await provisionAgent(idp, { profile: { modelHash: 'sha256:abc123', sourceCommit: 'c0ffee1', trainingDataVersion: 'td-42' } });
    spRedirect = await registerNodeSamlSp(idp, { signRequests: true, binding: 'HTTP-Redirect' });
    spPost = await registerNodeSamlSp(idp, { signRequests: true, binding: 'HTTP-POST' });
  });
  after(async () => idp.close());

  async function viaRedirect(method: AuthMethod, taskId: string, relayState = 'rs-1'): Promise<HttpResult> {
    const credential = await credentialFor(idp, agent, method);
    return idp.request({
      path: await redirectRequestPath(spRedirect, relayState),
      headers: { accept: 'application/json', 'task-id': taskId, ...credential.headers },
      ...(credential.clientCert ? { clientCert: credential.clientCert } : {}),
    });
  }

  async function viaPost(method: AuthMethod, taskId: string): Promise<HttpResult> {
    const credential = await credentialFor(idp, agent, method);
    const fields = await postRequestFields(spPost, 'rs-post');
    return idp.request({
      method: 'POST',
      path: '/saml/sso',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'task-id': taskId, ...credential.headers },
      body: new URLSearchParams(fields).toString(),
      ...(credential.clientCert ? { clientCert: credential.clientCert } : {}),
    });
  }

  async function viaIdpInitiated(method: AuthMethod, taskId: string, sp: NodeSamlSp): Promise<HttpResult> {
    const credential = await credentialFor(idp, agent, method);
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}&RelayState=deep-link`,
      headers: { accept: 'application/json', 'task-id': taskId, ...credential.headers },
      ...(credential.clientCert ? { clientCert: credential.clientCert } : {}),
    });
  }

  function assertAgentProfile(profile: Profile, taskId: string, scopes: string[]): void {
    assert.equal(profile.nameID, agent.userName);
    assert.equal(profile.nameIDFormat, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.equal(attribute(profile, 'AI-Agent-ID'), agent.userName);
    assert.equal(attribute(profile, 'Task-ID'), taskId);
    const scopeValue = attribute(profile, 'Agent-Scope');
    assert.deepEqual(Array.isArray(scopeValue) ? scopeValue : [scopeValue], scopes);
    assert.equal(attribute(profile, 'Sensitivity-Tier'), 'high');
    assert.equal(attribute(profile, 'Model-Hash'), 'sha256:abc123');
    assert.equal(attribute(profile, 'Source-Commit'), 'c0ffee1');
    assert.equal(attribute(profile, 'Training-Data-Version'), 'td-42');
    assert.equal(attribute(profile, 'Compute-Zone'), 'eu-west-1a');
    assert.ok(profile.sessionIndex, 'the AuthnStatement carries a SessionIndex');
  }

  for (const method of ['mtls', 'jwt'] as const) {
    it(`SP-initiated HTTP-Redirect, agent authenticated by ${method}`, async function () {
      const taskId = await openTask(idp, { agent: agent.userName, tier: 'high', scopes: ['invoices:read', 'reports:read'] });
      const response = await viaRedirect(method, taskId);
      assert.equal(response.status, 200, response.body);
      const body = response.json<SignOnJson>();
      assert.equal(body.acsUrl, spRedirect.acsUrl);
      assert.equal(body.RelayState, 'rs-1');
      const { profile } = await spRedirect.saml.validatePostResponseAsync({ SAMLResponse: body.SAMLResponse });
      assert.ok(profile);
      assertAgentProfile(profile, taskId, ['invoices:read', 'reports:read']);
    });

    it(`SP-initiated HTTP-POST, agent authenticated by ${method}`, async function () {
      const taskId = await openTask(idp, { agent: agent.userName, tier: 'high', scopes: ['invoices:write'] });
      const response = await viaPost(method, taskId);
      assert.equal(response.status, 200, response.body);
      const body = response.json<SignOnJson>();
      assert.equal(body.RelayState, 'rs-post');
      const { profile } = await spPost.saml.validatePostResponseAsync({ SAMLResponse: body.SAMLResponse });
      assert.ok(profile);
      assertAgentProfile(profile, taskId, ['invoices:write']);
    });

    it(`IdP-initiated, agent authenticated by ${method}`, async function () {
      const taskId = await openTask(idp, { agent: agent.userName, tier: 'high', scopes: ['reports:read'] });
      const response = await viaIdpInitiated(method, taskId, spRedirect);
      assert.equal(response.status, 200, response.body);
      const body = response.json<SignOnJson>();
      assert.equal(body.RelayState, 'deep-link');
      const xml = Buffer.from(body.SAMLResponse, 'base64').toString('utf8');
      assert.doesNotMatch(xml, /InResponseTo=/, 'an unsolicited Response answers no request');
      const { profile } = await spRedirect.unsolicited.validatePostResponseAsync({ SAMLResponse: body.SAMLResponse });
      assert.ok(profile);
      assertAgentProfile(profile, taskId, ['reports:read']);
    });
  }

  it('records one session per assertion, with SessionNotOnOrAfter from the task tier', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'high', scopes: ['reports:read'] });
    const before = Date.now();
    const response = await viaRedirect('mtls', taskId);
    const xml = Buffer.from(response.json<SignOnJson>().SAMLResponse, 'base64').toString('utf8');
    const sessionIndex = /SessionIndex="([^"]+)"/.exec(xml)?.[1];
    const notOnOrAfter = /SessionNotOnOrAfter="([^"]+)"/.exec(xml)?.[1];
    assert.ok(sessionIndex && notOnOrAfter);
    const lifetime = Date.parse(notOnOrAfter) - before;
    assert.ok(lifetime > 290_000 && lifetime <= 301_000, `high tier is 5 minutes, got ${lifetime} ms`);
    const session = await idp.running.idp.store.sessions.getBySessionIndex(sessionIndex);
    assert.ok(session);
    assert.equal(session.taskId, taskId);
    assert.equal(session.agentId, agent.id);
    assert.equal(session.spEntityId, spRedirect.entityId);
    assert.equal(session.authnMethod, 'mtls');
    assert.match(xml, new RegExp(`ID="${session.assertionId}"`));
  });

  it('answers a browser with an auto-submitting form whose values are escaped', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'high' });
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(spRedirect.entityId)}&RelayState=${encodeURIComponent('"><script>x</script>')}`,
      headers: { accept: 'text/html', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /text\/html/);
    const action = /<form method="post" action="([^"]+)">/.exec(response.body)?.[1];
    assert.equal(decodeHtml(action ?? ''), spRedirect.acsUrl);
    const posted = /name="SAMLResponse" value="([^"]+)"/.exec(response.body)?.[1];
    assert.match(decodeHtml(posted ?? ''), /^[A-Za-z0-9+/]+=*$/);
    assert.ok(!response.body.includes('<script>x</script>'), 'RelayState is HTML-escaped');
    const relayState = /name="RelayState" value="([^"]+)"/.exec(response.body)?.[1];
    assert.equal(decodeHtml(relayState ?? ''), '"><script>x</script>');
    const csp = String(response.headers['content-security-policy']);
    assert.match(csp, /script-src 'nonce-[^']+'/);
    assert.match(csp, /form-action https:\/\/sp-/);
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('signs the Response and the Assertion unless the SP opted out', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'high' });
    const response = await viaRedirect('mtls', taskId);
    const xml = Buffer.from(response.json<SignOnJson>().SAMLResponse, 'base64').toString('utf8');
    assert.equal((xml.match(/<ds:Signature[ >]/g) ?? []).length, 2);
    assert.doesNotMatch(xml, /sha1/i);

    const optedOut = await registerNodeSamlSp(idp, { signResponse: false });
    const taskId2 = await openTask(idp, { agent: agent.userName, tier: 'high' });
    const unsignedResponse = await viaIdpInitiated('mtls', taskId2, optedOut);
    const xml2 = Buffer.from(unsignedResponse.json<SignOnJson>().SAMLResponse, 'base64').toString('utf8');
    assert.equal((xml2.match(/<ds:Signature[ >]/g) ?? []).length, 1, 'only the Assertion is signed');
    const { profile } = await optedOut.unsolicited.validatePostResponseAsync({
      SAMLResponse: unsignedResponse.json<SignOnJson>().SAMLResponse,
    });
    assert.equal(profile?.nameID, agent.userName);
  });
});
