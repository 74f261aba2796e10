import assert from 'node:assert/strict';
import { ManualClock } from '../lib/common/clock.js';
import { openTask, provisionAgent, startTestIdp, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { writeConfig } from './support/lifecycle-tools.js';

/** A policy without an inactivity window, so each tier's full lifetime can be observed. */
const NO_INACTIVITY = `
automaticRevocation:
  conditions:
    - taskStatus: COMPLETED
  actions:
    - revokeTokens: true
`;

interface Issued {
  readonly xml: string;
  readonly sessionIndex: string;
  readonly assertionId: string;
  readonly sessionNotOnOrAfter: Date;
  readonly subjectNotOnOrAfter: Date;
}

export async function signOnAt(idp: TestIdp, sp: NodeSamlSp, agent: TestAgent, taskId: string): Promise<Issued> {
  const response = await idp.request({
    path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
    headers: { accept: 'application/json', 'task-id': taskId },
    clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
  });
  assert.equal(response.status, 200, response.body);
  const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
  const attribute = (pattern: RegExp) => pattern.exec(xml)?.[1] ?? assert.fail(`no match for ${pattern} in ${xml}`);
  return {
    xml,
    sessionIndex: attribute(/SessionIndex="([^"]+)"/),
    assertionId: attribute(/<saml:Assertion[^>]* ID="([^"]+)"/),
    sessionNotOnOrAfter: new Date(attribute(/SessionNotOnOrAfter="([^"]+)"/)),
    subjectNotOnOrAfter: new Date(attribute(/<saml:SubjectConfirmationData[^>]* NotOnOrAfter="([^"]+)"/)),
  };
}

/** Second precision, as SAML timestamps carry it. */
function seconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

describe('session lifetimes per sensitivity tier (injected clock)', function () {
  this.timeout(60_000);
  const clock = new ManualClock();
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let agent: TestAgent;

  before(async function () {
    clock.set(new Date(Math.floor(Date.now() / 1000) * 1000));
    idp = await startTestIdp({ clock, env: { TESSERA_CONFIG: writeConfig(NO_INACTIVITY) } });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp);
  });
  after(async () => idp.close());

  for (const [tier, lifetime] of [['high', 300], ['medium', 600], ['low', 900]] as const) {
    it(`a ${tier}-tier session carries SessionNotOnOrAfter = sign-on + ${lifetime} s and ends exactly then`, async function () {
      const taskId = await openTask(idp, { agent: agent.userName, tier, ttlSeconds: 7200 });
      const start = clock.now();
      const issued = await signOnAt(idp, sp, agent, taskId);
      assert.equal(seconds(issued.sessionNotOnOrAfter), seconds(start) + lifetime);
      assert.match(issued.xml, new RegExp(`<saml:Attribute Name="Sensitivity-Tier"[^>]*>\\s*<saml:AttributeValue[^>]*>${tier}<`));
      assert.ok(issued.subjectNotOnOrAfter <= issued.sessionNotOnOrAfter);

      const session = (await idp.running.idp.store.sessions.getBySessionIndex(issued.sessionIndex))!;
      assert.equal(session.expiresAt.getTime(), start.getTime() + lifetime * 1000);

      clock.advance(lifetime - 1);
      await idp.running.idp.sweeper.sweep();
      assert.equal((await idp.running.idp.store.sessions.get(session.id))!.revokedAt, undefined, 'still live one second before');

      clock.advance(1);
      const report = await idp.running.idp.sweeper.sweep();
      assert.ok(report.expired >= 1);
      const ended = (await idp.running.idp.store.sessions.get(session.id))!;
      assert.equal(ended.revokeReason, 'expired');
      assert.equal(ended.revokedAt?.getTime(), session.expiresAt.getTime());
      assert.equal((await idp.running.idp.store.sessions.listLiveForAgent(agent.id, clock.now())).some((s) => s.id === session.id), false);

      const next = await signOnAt(idp, sp, agent, taskId);
      assert.notEqual(next.sessionIndex, issued.sessionIndex, 'an ended session is never revived: a new one starts');
    });
  }

  it('never lets a session outlive its task', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'low', ttlSeconds: 120 });
    const start = clock.now();
    const issued = await signOnAt(idp, sp, agent, taskId);
    assert.equal(seconds(issued.sessionNotOnOrAfter), seconds(start) + 120, 'capped at the task expiry, not 900 s');
    assert.ok(seconds(issued.subjectNotOnOrAfter) <= seconds(start) + 120);
  });

  it('signing on again with the same task refreshes the session within the task bounds', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, tier: 'medium', ttlSeconds: 900 });
    const start = clock.now();
    const first = await signOnAt(idp, sp, agent, taskId);
    assert.equal(seconds(first.sessionNotOnOrAfter), seconds(start) + 600);

    clock.advance(200);
    const second = await signOnAt(idp, sp, agent, taskId);
    assert.equal(second.sessionIndex, first.sessionIndex, 'the same session, named by the same SessionIndex');
    assert.notEqual(second.assertionId, first.assertionId, 'each sign-on is a new assertion');
    assert.equal(seconds(second.sessionNotOnOrAfter), seconds(start) + 800, 'extended to refresh + 600 s');

    clock.advance(200);
    const third = await signOnAt(idp, sp, agent, taskId);
    assert.equal(third.sessionIndex, first.sessionIndex);
    assert.equal(seconds(third.sessionNotOnOrAfter), seconds(start) + 900, 'but never past the task (900 s), not 1000 s');

    const session = (await idp.running.idp.store.sessions.getBySessionIndex(first.sessionIndex))!;
    assert.equal(session.assertionId, third.assertionId);
    assert.equal(session.lastActivityAt?.getTime(), clock.now().getTime());

    const other = await registerNodeSamlSp(idp);
    const elsewhere = await signOnAt(idp, other, agent, taskId);
    assert.notEqual(elsewhere.sessionIndex, first.sessionIndex, 'another SP gets a session of its own');

    await idp.running.idp.auditLog.flush();
    const refreshed: unknown[] = [];
    for await (const entry of idp.running.idp.store.audit.query({ taskId })) {
      if (entry.event === 'signon.issued') refreshed.push((JSON.parse(entry.details) as { sessionRefreshed: boolean }).sessionRefreshed);
    }
    assert.deepEqual(refreshed, [false, true, true, false], 'every assertion is audited, refreshes marked');
  });

  it('takes tier lifetimes from the YAML config', async function () {
    // A fresh clock: this IdP's TLS certificate must be valid on the wall clock the test client reads.
    const customClock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
    const custom = await startTestIdp({
      clock: customClock,
      env: { TESSERA_CONFIG: writeConfig(`tiers:\n  high: { sessionLifetimeSeconds: 120 }\n  low: { sessionLifetimeSeconds: 1800 }\n${NO_INACTIVITY}`) },
    });
    try {
      const customSp = await registerNodeSamlSp(custom);
      const customAgent = await provisionAgent(custom);
      for (const [tier, lifetime] of [['high', 120], ['medium', 600], ['low', 1800]] as const) {
        const taskId = await openTask(custom, { agent: customAgent.userName, tier, ttlSeconds: 7200 });
        const issued = await signOnAt(custom, customSp, customAgent, taskId);
        assert.equal(seconds(issued.sessionNotOnOrAfter), seconds(customClock.now()) + lifetime, tier);
      }
    } finally {
      await custom.close();
    }
  });
});
