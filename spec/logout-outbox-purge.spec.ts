import { strict as assert } from 'node:assert';
import { ManualClock } from '../lib/common/clock.js';
import { openDatabase, type SqliteDatabase } from '../lib/store/database.js';
import { idpInitiatedSignOn, openTask, orchestratorHeaders, provisionAgent, startTestIdp, type TestIdp } from './support/harness.js';
import { registerSp, spMetadata, waitFor } from './support/loopback-sp.js';

/*
 * The logout outbox holds what is in flight; the audit log holds the history.
 * The sweeper deletes deliveries that finished (delivered, skipped, abandoned)
 * more than seven days ago, in bounded batches, and never a pending one: before,
 * every revoked session left a row forever, and queueing a deprovisioned agent's
 * logouts slowed as the table grew.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
/** Takes no back-channel logout: its deliveries are settled as skipped at once. */
const PLAIN_SP = 'https://plain-sp.example.test/saml';
/** Asks for SOAP logout at an address nothing listens on: its delivery stays pending, retried. */
const DOWN_SP = 'https://down-sp.example.test/saml';
const DAY_SECONDS = 86_400;
const DAY_MS = DAY_SECONDS * 1000;

interface OutboxRow {
  sp_entity_id: string;
  state: string;
  finished_at: number | null;
}

describe('logout outbox retention', function () {
  this.timeout(30_000);
  const clock = new ManualClock();
  let idp: TestIdp;
  let db: SqliteDatabase;

  beforeEach(async () => {
    clock.set(new Date(Math.floor(Date.now() / 1000) * 1000));
    idp = await startTestIdp({ clock });
    await registerSp(idp, spMetadata({ entityId: PLAIN_SP }));
    await registerSp(idp, spMetadata({ entityId: DOWN_SP, soapSlo: 'https://127.0.0.1:9/slo' }));
    db = openDatabase(idp.dataDir);
  });
  afterEach(async () => {
    db.close();
    await idp.close();
  });

  const outbox = (): OutboxRow[] => db.prepare<[], OutboxRow>('SELECT sp_entity_id, state, finished_at FROM logout_outbox ORDER BY sp_entity_id').all();

  it('the sweeper deletes deliveries finished more than seven days ago, and keeps pending and recent ones', async () => {
    const agent = await provisionAgent(idp);
    for (const sp of [PLAIN_SP, DOWN_SP]) {
      const task = await openTask(idp, { agent: agent.userName });
      const signOn = await idpInitiatedSignOn(idp, agent, sp, task);
      assert.equal(signOn.status, 200, signOn.body);
    }
    const deprovision = await idp.request({
      method: 'PATCH',
      path: `/scim/v2/Users/${agent.id}`,
      headers: orchestratorHeaders(idp),
      body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
    });
    assert.equal(deprovision.status, 204, deprovision.body);
    await waitFor('the plain SP delivery to be settled', () => outbox().find((r) => r.sp_entity_id === PLAIN_SP && r.state === 'skipped'), 5_000);

    clock.advance(DAY_SECONDS);
    assert.equal((await idp.running.idp.sweeper.sweep()).deliveriesPurged, 0, 'a day-old delivery stays');
    assert.deepEqual(
      outbox().map((r) => r.sp_entity_id),
      [DOWN_SP, PLAIN_SP],
    );

    clock.advance(7 * DAY_SECONDS);
    const report = await idp.running.idp.sweeper.sweep();
    assert.equal(report.deliveriesPurged, 1);
    const left = outbox();
    assert.deepEqual(
      left.map((r) => r.sp_entity_id),
      [DOWN_SP],
      'the skipped delivery went; the one still being retried (or just given up) stays',
    );
    assert.ok(left[0]!.state === 'pending' || left[0]!.finished_at! > clock.now().getTime() - 7 * DAY_MS);

    // The history is the audit log's: the deprovisioning is still there.
    const audited = db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE event = 'agent.deactivated' AND agent_id = ?").get(agent.id);
    assert.equal(audited?.n, 1);
  });

  it('purges in bounded batches through the finished-deliveries index, oldest first, never a pending delivery', async () => {
    const now = clock.now().getTime();
    const insert = db.prepare(
      `INSERT INTO logout_outbox (id, session_id, agent_id, task_id, sp_entity_id, name_id, name_id_format, session_index,
                                  reason, state, attempts, next_attempt_at, created_at, finished_at)
       VALUES (?, ?, 'a', 't', ?, 'n', 'f', ?, 'test', ?, 1, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < 25; i += 1) insert.run(`old-${i}`, `s-old-${i}`, PLAIN_SP, `_old${i}`, 'delivered', now - 30 * DAY_MS, now - 30 * DAY_MS, now - (20 + i) * DAY_MS);
      insert.run('old-pending', 's-old-pending', DOWN_SP, '_p', 'pending', now - 30 * DAY_MS, now - 30 * DAY_MS, null);
      insert.run('recent', 's-recent', PLAIN_SP, '_r', 'abandoned', now - DAY_MS, now - 2 * DAY_MS, now - DAY_MS);
    })();
    const outboxRepository = idp.running.idp.store.logoutOutbox;
    const before = new Date(now - 7 * DAY_MS);
    assert.equal(await outboxRepository.purgeFinished(before, 10), 10);
    const oldest = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM logout_outbox WHERE id IN ('old-24', 'old-23')").get();
    assert.equal(oldest?.n, 0, 'the oldest went first');
    assert.equal(await outboxRepository.purgeFinished(before, 100), 15);
    assert.equal(await outboxRepository.purgeFinished(before, 100), 0);
    assert.deepEqual(
      db.prepare<[], { id: string }>('SELECT id FROM logout_outbox ORDER BY id').all().map((r) => r.id),
      ['old-pending', 'recent'],
    );
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT rowid FROM logout_outbox WHERE state <> 'pending' AND finished_at < 1 ORDER BY finished_at LIMIT 10`,
      )
      .all()
      .map((row) => (row as { detail: string }).detail)
      .join('; ');
    assert.match(plan, /USING INDEX logout_outbox_finished/);
    assert.doesNotMatch(plan, /TEMP B-TREE/, 'no sort: the index is already in finished_at order');
  });
});
