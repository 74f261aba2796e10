import { strict as assert } from 'node:assert';
import express from 'express';
import { openDatabase } from '../lib/store/database.js';
import type { IncomingHttpHeaders } from 'node:http';
import { idpInitiatedSignOn, openTask, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * The sign-on endpoints agents call (GET /saml/sso/initiate, GET /saml/sso) are
 * answered by node:http handlers without passing through Express, which costs
 * about as much CPU per request as the rest of the HTTP stack (http/direct-routes.ts).
 * Every other request still goes to Express, which mounts the same handlers for
 * the spellings it also matches and refuses HEAD on them. The two must be indistinguishable to a client:
 * same status, headers and body, same audit record and request metrics.
 *
 * Express is observed by wrapping its application prototype's handle() before
 * the IdP is built (express() copies the prototype's methods into each app).
 */

const expressApplication = express.application as unknown as { handle: (...args: unknown[]) => unknown };

/** Headers that differ between any two responses, whoever wrote them. */
const VARYING = new Set(['date', 'content-length', 'content-security-policy']);

function headerShape(headers: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !VARYING.has(name)).sort(([a], [b]) => a.localeCompare(b)));
}

describe('sign-on endpoints served without Express', function () {
  this.timeout(30_000);
  const originalHandle = expressApplication.handle;
  let expressHandled: string[];
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;

  before(async () => {
    expressHandled = [];
    expressApplication.handle = function (this: unknown, ...args: unknown[]) {
      expressHandled.push(String((args[0] as { url?: string }).url));
      return originalHandle.apply(this, args);
    };
    ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
  });
  after(async () => {
    expressApplication.handle = originalHandle;
    await idp.close();
  });
  beforeEach(() => {
    expressHandled.length = 0;
  });

  /** A task opened through the Tasks API (an Express route), and Express's record cleared after it. */
  const freshTask = async (): Promise<string> => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    expressHandled.length = 0;
    return task;
  };
  const initiate = (path: string, taskId: string | undefined, accept = 'application/json'): Promise<HttpResult> =>
    idp.request({
      path: `${path}?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept, ...(taskId ? { 'task-id': taskId } : {}) },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
  const assertionOf = (response: HttpResult): string =>
    Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');

  it('answers an IdP-initiated sign-on without Express, as Express answers the same request', async () => {
    const task = await freshTask();
    const direct = await idpInitiatedSignOn(idp, agent, sp.entityId, task);
    assert.equal(direct.status, 200, direct.body);
    assert.deepEqual(expressHandled, [], 'Express saw none of it');
    const { profile } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: direct.json<{ SAMLResponse: string }>().SAMLResponse });
    assert.equal(profile?.nameID, agent.userName);

    const viaExpress = await initiate('/saml/sso/initiate/', task);
    assert.equal(viaExpress.status, 200, viaExpress.body);
    assert.equal(expressHandled.length, 1, 'the trailing-slash spelling is Express’s');
    assert.deepEqual(headerShape(direct.headers), headerShape(viaExpress.headers));
    assert.equal(direct.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(direct.headers['cache-control'], 'no-store');
    assert.equal(direct.headers['strict-transport-security'], 'max-age=31536000');
    assert.deepEqual(Object.keys(direct.json<object>()), Object.keys(viaExpress.json<object>()));
    const { profile: again } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: viaExpress.json<{ SAMLResponse: string }>().SAMLResponse });
    assert.equal(again?.nameID, agent.userName);
  });

  it('writes the JSON answer exactly as JSON.stringify would, RelayState of any characters included', async () => {
    const relayState = 'https://app.example.test/"quoted"\\back\u2028line\u0085é😀</script>\t\n';
    const task = await freshTask();
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}&RelayState=${encodeURIComponent(relayState)}`,
      headers: { accept: 'application/json', 'task-id': task },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    const body = response.json<{ acsUrl: string; SAMLResponse: string; RelayState: string }>();
    assert.deepEqual(Object.keys(body), ['acsUrl', 'SAMLResponse', 'RelayState']);
    assert.equal(body.RelayState, relayState);
    assert.equal(body.acsUrl, sp.acsUrl);
    assert.equal(response.body, JSON.stringify(body), 'byte for byte what JSON.stringify writes');
    assert.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body));
    const { profile } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: body.SAMLResponse });
    assert.equal(profile?.nameID, agent.userName);
  });

  it('answers a browser with the same auto-submitting form either way', async () => {
    const task = await freshTask();
    const direct = await initiate('/saml/sso/initiate', task, 'text/html');
    const viaExpress = await initiate('/saml/sso/initiate/', task, 'text/html');
    assert.deepEqual(expressHandled, ['/saml/sso/initiate/?sp=' + encodeURIComponent(sp.entityId)]);
    for (const response of [direct, viaExpress]) {
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(String(response.headers['content-security-policy']), /^default-src 'none'; script-src 'nonce-/);
      assert.match(response.body, /<form method="post" action="https:/);
    }
    assert.deepEqual(headerShape(direct.headers), headerShape(viaExpress.headers));
  });

  it('refuses the same way, with the same audit record and request metrics', async () => {
    const direct = await initiate('/saml/sso/initiate', undefined);
    const viaExpress = await initiate('/saml/sso/initiate/', undefined);
    assert.equal(expressHandled.length, 1);
    for (const response of [direct, viaExpress]) {
      assert.equal(response.status, 403, response.body);
      assert.match(assertionOf(response), /StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/);
      assert.doesNotMatch(assertionOf(response), /<saml:Assertion/);
    }
    assert.deepEqual(headerShape(direct.headers), headerShape(viaExpress.headers));

    const denied = idp.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === 'audit.signon.denied');
    assert.deepEqual(
      denied.slice(-2).map((line) => [line.reason, line.path]),
      [
        ['task_missing', '/saml/sso/initiate'],
        ['task_missing', '/saml/sso/initiate/'],
      ],
    );
    const metrics = await idp.request({ path: '/metrics' });
    assert.match(metrics.body, /tessera_http_requests_total\{method="GET",route="\/saml\/sso\/initiate",status="403"\} [1-9]/);
  });

  it('refuses HEAD on the endpoints whose GET signs on or logs out, writing nothing', async () => {
    const task = await freshTask();
    const before = idp.logLines.length;
    for (const [path, allow] of [
      [`/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`, 'GET'],
      ['/saml/sso/initiate/', 'GET'],
      ['/saml/sso', 'GET, POST'],
      ['/saml/slo', 'GET, POST'],
    ] as const) {
      const head = await idp.request({
        method: 'HEAD',
        path,
        headers: { 'task-id': task },
        clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
      });
      assert.equal(head.status, 405, path);
      assert.equal(head.headers.allow, allow, path);
      assert.equal(head.headers['cache-control'], 'no-store');
    }
    const events = idp.logLines.slice(before).map((line) => (JSON.parse(line) as { event: string }).event);
    assert.deepEqual(events.filter((event) => event.startsWith('audit.')), [], 'no sign-on, no logout, nothing audited');
    const db = openDatabase(idp.dataDir);
    try {
      assert.equal(db.prepare<[string], number>('SELECT COUNT(*) FROM sessions WHERE task_id = ?').pluck().get(task), 0, 'no session written');
    } finally {
      db.close();
    }
  });

  it('leaves every other route to Express', async () => {
    assert.equal((await idp.request({ path: '/healthz' })).status, 200);
    assert.equal((await idp.request({ path: '/saml/metadata' })).status, 200);
    const head = await idp.request({ method: 'HEAD', path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}` });
    assert.equal(head.status, 405);
    assert.equal(head.headers.allow, 'GET');
    assert.equal((await idp.request({ path: '/saml/sso/initiate/extra' })).status, 404);
    assert.deepEqual(
      expressHandled.map((url) => url.split('?')[0]),
      ['/healthz', '/saml/metadata', '/saml/sso/initiate', '/saml/sso/initiate/extra'],
    );
  });
});
