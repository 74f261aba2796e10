import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { importX509, jwtVerify, decodeProtectedHeader } from 'jose';
import { freePort, orchestratorHeaders, provisionAgent, startTestIdp, type TestIdp } from './support/harness.js';
import { writeConfig } from './support/lifecycle-tools.js';
import { waitFor } from './support/loopback-sp.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const POLICY_DECISION = 'urn:tessera:secevent:policy-decision';

interface Received {
  readonly contentType: string | undefined;
  readonly body: string;
}

/** A webhook receiver on loopback that can be told to fail its next answers. */
async function startReceiver(port: number): Promise<{ received: Received[]; failNext: (n: number) => void; close: () => Promise<void> }> {
  const received: Received[] = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (failures > 0) {
        failures -= 1;
        res.writeHead(503).end();
        return;
      }
      received.push({ contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received,
    failNext: (n) => (failures = n),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('security alerts: signed CAEP-shaped events to webhooks through a durable outbox', function () {
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let webhook: string;

  before(async function () {
    const port = await freePort();
    webhook = `http://127.0.0.1:${port}/events`;
    receiver = await startReceiver(port);
    const config = writeConfig(`
policy:
  modelHashes:
    deny: [sha256:recalled]
  rules:
    - id: quarantine
      effect: revoke
      when: { owners: [mallory@example.com], on: [signon] }
    - id: payroll
      effect: step_up
      when: { scopes: [payroll:write], on: [signon] }
alerts:
  webhooks:
    - url: ${webhook}
`);
    idp = await startTestIdp({ env: { TESSERA_CONFIG: config } });
    sp = await registerNodeSamlSp(idp);
  });
  after(async function () {
    await idp.close();
    await receiver.close();
  });

  /** Provisions an agent and has it refused: at task opening when the policy refuses the task, else at sign-on. */
  async function refusedSignOn(profile: Record<string, unknown>, scopes: string[]): Promise<string> {
    const agent = await provisionAgent(idp, { profile: { scopes: ['invoices:read', 'payroll:write'], ...profile } });
    const opening = await idp.request({
      method: 'POST',
      path: '/api/v1/tasks',
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ agent: agent.userName, scopes, tier: 'medium' }),
    });
    if (opening.status === 403) {
      assert.equal(opening.json<{ code: string }>().code, 'policy_denied');
      return agent.userName;
    }
    assert.equal(opening.status, 201, opening.body);
    const taskId = opening.json<{ taskId: string }>().taskId;
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 403, response.body);
    return agent.userName;
  }

  async function verified(userName: string): Promise<{ header: Record<string, unknown>; payload: Record<string, unknown> }> {
    const event = await waitFor(`an event about ${userName}`, () => receiver.received.find((r) => r.body.length > 0 && decode(r.body).sub_id?.id === userName), 10_000);
    assert.equal(event.contentType, 'application/secevent+jwt');
    const key = await importX509(idp.signingCertificatePem, 'RS256');
    const { payload, protectedHeader } = await jwtVerify(event.body, key, { issuer: `${idp.baseUrl}/saml/metadata`, audience: webhook, typ: 'secevent+jwt' });
    return { header: protectedHeader as Record<string, unknown>, payload: payload as Record<string, unknown> };
  }

  const TABLE = [
    // A recalled model is refused as soon as a task is opened for it, before any sign-on.
    { kind: 'deny', profile: { modelHash: 'sha256:recalled' }, scopes: ['invoices:read'], type: POLICY_DECISION, reasons: ['model_hash_denied'], sp: false },
    { kind: 'revoke', profile: { owner: 'mallory@example.com' }, scopes: ['invoices:read'], type: SESSION_REVOKED, reasons: ['rule:quarantine'], sp: true },
    { kind: 'step_up', profile: {}, scopes: ['payroll:write'], type: POLICY_DECISION, reasons: ['rule:payroll'], sp: true },
  ];
  for (const row of TABLE) {
    it(`delivers a signed event for a ${row.kind}, verifiable with the certificate in our metadata`, async function () {
      const userName = await refusedSignOn(row.profile, row.scopes);
      const { header, payload } = await verified(userName);
      assert.equal(header.typ, 'secevent+jwt');
      assert.equal(typeof payload.jti, 'string');
      assert.deepEqual(payload.sub_id, { format: 'opaque', id: userName });
      const events = payload.events as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(events), [row.type]);
      const event = events[row.type]!;
      assert.equal(event.initiating_entity, 'policy');
      assert.equal(typeof event.event_timestamp, 'number');
      assert.equal(typeof (event.reason_admin as { en: string }).en, 'string');
      const tessera = event.tessera as { decision: string; reasons: string[]; spEntityId?: string; taskId?: string };
      assert.equal(tessera.decision, row.kind);
      assert.deepEqual(tessera.reasons, row.reasons);
      assert.equal(tessera.spEntityId, row.sp ? sp.entityId : undefined);
      assert.equal(typeof tessera.taskId, row.sp ? 'string' : 'undefined');
    });
  }

  it('retries a failing webhook with backoff until it takes the event', async function () {
    receiver.failNext(2);
    const userName = await refusedSignOn({ modelHash: 'sha256:recalled' }, ['invoices:read']);
    const { payload } = await verified(userName);
    assert.equal(decodeProtectedHeader(receiver.received.at(-1)!.body).alg, 'RS256');
    const rows = await idp.running.idp.store.alertOutbox.list();
    const row = rows.find((r) => r.eventId === payload.jti);
    assert.ok(row);
    assert.equal(row.state, 'delivered');
    assert.equal(row.attempts, 2, 'two refused attempts before the delivery');
  });
});

function decode(jwt: string): { sub_id?: { id?: string } } {
  const part = jwt.split('.')[1] ?? '';
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub_id?: { id?: string } };
  } catch {
    return {};
  }
}
