import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { openDatabase, type SqliteDatabase } from '../lib/store/database.js';
import { sqliteStore } from '../lib/store/index.js';
import { openTask, orchestratorHeaders, provisionAgent, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { tessera } from './support/lifecycle-tools.js';
import { openTaskRecord } from './support/store-fixtures.js';
import {
  createTestCa,
  metadataCertificates,
  registerSp,
  spMetadata,
  startSoapSp,
  startTrustingIdp,
  waitFor,
  type SoapSp,
  type TestCa,
} from './support/loopback-sp.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
/** An SP that takes no back-channel logout: its deliveries are settled as skipped. */
const PLAIN_SP = 'https://plain-sp.example.test/saml';

const SESSIONS = 1_000;
/** Sessions at the SOAP SP (real sign-ons among them): enough for several delivery batches. */
const AT_SOAP_SP = 40;
const REAL_SIGN_ONS = { soap: 3, plain: 2 };

interface StoredSession {
  id: string;
  sp_entity_id: string;
  session_index: string;
  task_id: string;
  revoked_at: number | null;
  revoke_reason: string | null;
}

interface Holding {
  readonly agent: TestAgent;
  readonly tasks: string[];
  /** Every live session of the agent, as stored before it is deprovisioned. */
  readonly sessions: StoredSession[];
}

interface ExportedLine {
  event: string;
  agentId: string | null;
  details: Record<string, unknown>;
}

describe('deprovisioning an agent that holds 1,000 live sessions', function () {
  this.timeout(120_000);
  let ca: TestCa;
  let idp: TestIdp;
  let soapSp: SoapSp;
  let db: SqliteDatabase;

  before(async function () {
    ca = await createTestCa();
  });
  beforeEach(async function () {
    idp = await startTrustingIdp({ trustedCa: ca.certificatePem });
    const certificates = await metadataCertificates(idp);
    soapSp = await startSoapSp(ca, () => certificates);
    await registerSp(idp, soapSp.metadataXml());
    await registerSp(idp, spMetadata({ entityId: PLAIN_SP }));
    // A second connection to the IdP's own file, as an operator's tool would open it.
    db = openDatabase(idp.dataDir);
  });
  afterEach(async function () {
    db.close();
    await soapSp.close();
    await idp.close();
  });

  function signOn(agent: TestAgent, sp: string, taskId: string): Promise<HttpResult> {
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
  }

  const storedSessions = (agentId: string): StoredSession[] =>
    db
      .prepare<[string], StoredSession>('SELECT id, sp_entity_id, session_index, task_id, revoked_at, revoke_reason FROM sessions WHERE agent_id = ?')
      .all(agentId);

  /**
   * An agent with a few real sign-ons over HTTPS, then the rest of its 1,000 sessions
   * (one task each) written through the store's repositories in one transaction.
   */
  async function agentHolding(): Promise<Holding> {
    const agent = await provisionAgent(idp);
    const tasks: string[] = [];
    for (const [sp, count] of [
      [soapSp.entityId, REAL_SIGN_ONS.soap],
      [PLAIN_SP, REAL_SIGN_ONS.plain],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const taskId = await openTask(idp, { agent: agent.userName });
        const response = await signOn(agent, sp, taskId);
        assert.equal(response.status, 200, response.body);
        tasks.push(taskId);
      }
    }
    const store = sqliteStore(db);
    const now = new Date();
    const real = REAL_SIGN_ONS.soap + REAL_SIGN_ONS.plain;
    const bulkAtSoapSp = AT_SOAP_SP - REAL_SIGN_ONS.soap;
    db.transaction(() => {
      for (let i = real; i < SESSIONS; i++) {
        const task = openTaskRecord(agent.id, now);
        const taskId = task.id;
        // better-sqlite3 runs each repository call synchronously, inside this transaction.
        void store.tasks.create(task);
        void store.sessions.createIfTaskOpen(
          {
            id: randomUUID(),
            sessionIndex: `_${randomBytes(20).toString('hex')}`,
            agentId: agent.id,
            taskId,
            spEntityId: i - real < bulkAtSoapSp ? soapSp.entityId : PLAIN_SP,
            nameId: agent.userName,
            nameIdFormat: PERSISTENT,
            assertionId: `_${randomBytes(20).toString('hex')}`,
            authnMethod: 'mtls',
            createdAt: now,
            expiresAt: new Date(now.getTime() + 600_000),
            revokedAt: undefined,
            revokeReason: undefined,
          },
          now,
        );
        tasks.push(taskId);
      }
    }).immediate();
    const sessions = storedSessions(agent.id);
    assert.equal(sessions.length, SESSIONS);
    assert.ok(sessions.every((s) => s.revoked_at === null));
    assert.equal(sessions.filter((s) => s.sp_entity_id === soapSp.entityId).length, AT_SOAP_SP);
    return { agent, tasks, sessions };
  }

  async function timed(label: string, request: () => Promise<HttpResult>): Promise<HttpResult> {
    const started = performance.now();
    const response = await request();
    console.log(`      ${label}: ${(performance.now() - started).toFixed(1)} ms (not asserted; npm run bench measures it)`);
    return response;
  }

  /** Everything a deprovisioning owes: nothing live, every session revoked and announced, every task cancelled. */
  async function assertEnded(holding: Holding, reason: string): Promise<void> {
    const { agent, sessions, tasks } = holding;
    const after = storedSessions(agent.id);
    assert.equal(after.length, SESSIONS);
    assert.equal((await idp.running.idp.store.sessions.listLiveForAgent(agent.id, new Date())).length, 0, 'no live session is left');
    assert.ok(
      after.every((s) => s.revoked_at !== null && s.revoke_reason === reason),
      `every session revoked with reason ${reason}`,
    );

    const statuses = db.prepare<[string], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM tasks WHERE agent_id = ? GROUP BY status').all(agent.id);
    assert.deepEqual(statuses, [{ status: 'CANCELLED', n: tasks.length }]);

    // One delivery per revoked session, for the SP that held it; the SOAP SP's are sent, the other SP's skipped.
    const deliveries = await waitFor(
      'every delivery settled',
      async () => {
        const rows = (await idp.running.idp.store.logoutOutbox.list()).filter((d) => d.agentId === agent.id);
        return rows.length === SESSIONS && rows.every((d) => d.state !== 'pending') ? rows : undefined;
      },
      30_000,
    );
    const bySession = new Map(deliveries.map((d) => [d.sessionId, d]));
    assert.equal(bySession.size, SESSIONS, 'exactly one delivery per session');
    for (const session of sessions) {
      const delivery = bySession.get(session.id);
      assert.ok(delivery, `a delivery for session ${session.id}`);
      assert.equal(delivery.spEntityId, session.sp_entity_id);
      assert.equal(delivery.sessionIndex, session.session_index);
      assert.equal(delivery.reason, reason);
      if (session.sp_entity_id === soapSp.entityId) assert.equal(delivery.state, 'delivered');
      else assert.deepEqual([delivery.state, delivery.lastError], ['skipped', 'no SOAP SingleLogoutService']);
    }
    assert.ok(deliveries.every((d) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(d.id)), 'delivery ids are UUIDv7');

    // The SOAP SP got one signed LogoutRequest per session it held, and nothing else.
    const expectedIndexes = sessions.filter((s) => s.sp_entity_id === soapSp.entityId).map((s) => s.session_index).sort();
    assert.deepEqual(soapSp.received.map((r) => r.sessionIndex).sort(), expectedIndexes);
    assert.ok(soapSp.received.every((r) => r.signatureValid && r.nameId === agent.userName));

    // The refusal of the next sign-on: a SAML error Response, no assertion.
    const next = await signOn(agent, soapSp.entityId, tasks[0]!);
    assert.equal(next.status, 403, next.body);
    const xml = Buffer.from(next.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Responder"`));
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}AuthnFailed"`));
    assert.doesNotMatch(xml, /Assertion/);
    assert.equal(storedSessions(agent.id).filter((s) => s.revoked_at === null).length, 0, 'the refused sign-on opened nothing');
  }

  /** The trail as an operator exports it: the decision names every session, the SP that held it, and every task. */
  function assertAudited(holding: Holding, event: 'agent.deactivated' | 'agent.deleted'): void {
    const exported = tessera(['audit', 'export', '--agent', holding.agent.id, '--data-dir', idp.dataDir]);
    assert.equal(exported.status, 0, exported.stderr);
    const lines = exported.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as ExportedLine);
    const decisions = lines.filter((line) => line.event === event);
    assert.equal(decisions.length, 1);
    const details = decisions[0]!.details as { revokedSessions: string[]; revokedSessionsBySp: Record<string, string[]>; cancelledTasks: string[] };
    const ids = holding.sessions.map((s) => s.id).sort();
    assert.deepEqual([...details.revokedSessions].sort(), ids);
    const bySp: Record<string, string[]> = {};
    for (const session of holding.sessions) (bySp[session.sp_entity_id] ??= []).push(session.id);
    assert.deepEqual(
      Object.fromEntries(Object.entries(details.revokedSessionsBySp).map(([sp, list]) => [sp, [...list].sort()])),
      Object.fromEntries(Object.entries(bySp).map(([sp, list]) => [sp, list.sort()])),
    );
    assert.deepEqual([...details.cancelledTasks].sort(), [...holding.tasks].sort());
    const verified = tessera(['audit', 'verify', '--data-dir', idp.dataDir]);
    assert.equal(verified.status, 0, verified.stderr);
  }

  it('PATCH active=false revokes all 1,000, queues a logout for each, cancels every task and refuses the next sign-on', async function () {
    const holding = await agentHolding();
    // The orchestrator's connection is already open, as the bench has it.
    assert.equal((await idp.request({ path: `/scim/v2/Users/${holding.agent.id}`, headers: orchestratorHeaders(idp) })).status, 200);
    const response = await timed('deactivation of an agent with 1,000 live sessions', () =>
      idp.request({
        method: 'PATCH',
        path: `/scim/v2/Users/${holding.agent.id}`,
        headers: orchestratorHeaders(idp),
        body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
      }),
    );
    assert.equal(response.status, 204, response.body);
    await assertEnded(holding, 'agent_deactivated');
    assertAudited(holding, 'agent.deactivated');
  });

  it('DELETE does the same and removes the agent', async function () {
    const holding = await agentHolding();
    const response = await timed('deletion of an agent with 1,000 live sessions', () =>
      idp.request({ method: 'DELETE', path: `/scim/v2/Users/${holding.agent.id}`, headers: orchestratorHeaders(idp) }),
    );
    assert.equal(response.status, 204, response.body);
    assert.equal((await idp.request({ path: `/scim/v2/Users/${holding.agent.id}`, headers: orchestratorHeaders(idp) })).status, 404);
    await assertEnded(holding, 'agent_deleted');
    assertAudited(holding, 'agent.deleted');
  });
});
