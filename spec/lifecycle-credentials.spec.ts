import assert from 'node:assert/strict';
import { ManualClock } from '../lib/common/clock.js';
import { agentJwt, openTask, provisionAgent, startTestIdp, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { writeConfig } from './support/lifecycle-tools.js';

const HOURS_72 = 72 * 3600;

function statusOf(response: HttpResult): { top: string; second: string; message: string } {
  const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
  const codes = [...xml.matchAll(/<samlp:StatusCode Value="([^"]+)"/g)].map((m) => m[1]!);
  return { top: codes[0] ?? '', second: codes[1] ?? '', message: /<samlp:StatusMessage>([^<]*)</.exec(xml)?.[1] ?? '' };
}

describe('credential age: certificates registered more than 72 h ago are refused (injected clock)', function () {
  this.timeout(60_000);
  let clock: ManualClock;
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let agent: TestAgent;

  beforeEach(async function () {
    clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
    idp = await startTestIdp({ clock });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp);
  });
  afterEach(async () => idp.close());

  async function signOn(method: 'mtls' | 'jwt', taskId: string): Promise<HttpResult> {
    const iat = Math.floor(clock.now().getTime() / 1000);
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: {
        accept: 'application/json',
        'task-id': taskId,
        ...(method === 'jwt' ? { authorization: `Bearer ${await agentJwt(idp, agent, { iat })}` } : {}),
      },
      ...(method === 'mtls' ? { clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem } } : {}),
    });
  }

  for (const method of ['mtls', 'jwt'] as const) {
    it(`accepts a ${method} credential up to 72 h after registration and refuses it after, saying why`, async function () {
      clock.advance(HOURS_72 - 60);
      const fresh = await signOn(method, await openTask(idp, { agent: agent.userName, tier: 'high' }));
      assert.equal(fresh.status, 200, fresh.body);

      clock.advance(120);
      const taskId = await openTask(idp, { agent: agent.userName, tier: 'high' });
      const stale = await signOn(method, taskId);
      assert.equal(stale.status, 403, 'a refusal goes back to the trusted ACS as a SAML Response');
      const status = statusOf(stale);
      assert.equal(status.top, 'urn:oasis:names:tc:SAML:2.0:status:Responder');
      assert.equal(status.second, 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
      assert.match(status.message, /^the agent certificate was registered 72\.0 h ago \(.+\), more than the 72 h a credential may be used: register a new certificate$/);

      await idp.running.idp.auditLog.flush();
      let denied: { reason: string | null; agentId: string | null } | undefined;
      for await (const entry of idp.running.idp.store.audit.query({ taskId })) if (entry.event === 'signon.denied') denied = entry;
      assert.equal(denied?.reason, 'agent_credential_expired', 'the refusal is audited with its reason');
    });
  }

  it('takes the maximum age from the config', async function () {
    await idp.close();
    idp = await startTestIdp({ clock, env: { TESSERA_CONFIG: writeConfig('credentials:\n  maxAgeSeconds: 3600\n') } });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp);
    clock.advance(3600);
    assert.equal((await signOn('mtls', await openTask(idp, { agent: agent.userName }))).status, 200);
    clock.advance(1);
    const stale = await signOn('mtls', await openTask(idp, { agent: agent.userName }));
    assert.equal(stale.status, 403);
    assert.match(statusOf(stale).message, /more than the 1 h a credential may be used/);
  });
});
