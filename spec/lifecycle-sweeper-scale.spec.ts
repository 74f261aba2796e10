import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../lib/common/clock.js';
import { SWEEP_SQL } from '../lib/store/sqlite-sessions.js';
import { startTestIdp, type TestIdp } from './support/harness.js';
import { openDirectly } from './support/lifecycle-tools.js';

const STORED = 100_000;
const EXPIRING = 100;

describe('sweeper cost follows what expires, not what is stored', function () {
  this.timeout(120_000);
  let clock: ManualClock;
  let idp: TestIdp;
  let db: ReturnType<typeof openDirectly>;

  before(async function () {
    clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
    idp = await startTestIdp({ clock });
    db = openDirectly(idp.dataDir);
    const now = clock.now().getTime();
    const insert = db.prepare(
      `INSERT INTO sessions (id, session_index, agent_id, task_id, sp_entity_id, name_id, name_id_format, assertion_id,
                             authn_method, created_at, expires_at, last_activity_at)
       VALUES (?, ?, ?, ?, 'https://sp.example.test/saml', ?, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', ?, 'mtls', ?, ?, ?)`,
    );
    // 100,000 stored sessions of 1,000 agents: 100 end in a minute, the rest in an hour.
    db.transaction(() => {
      for (let i = 0; i < STORED; i += 1) {
        const agent = `agent-${i % 1000}`;
        const expiresAt = i < EXPIRING ? now + 60_000 : now + 3_600_000;
        insert.run(randomUUID(), `_s${i}`, agent, `task-${i % 5000}`, agent, `_a${i}`, now, expiresAt, now);
      }
    })();
  });
  after(async function () {
    db.close();
    await idp.close();
  });

  it('plans every sweep statement as an index range search, never a table scan', function () {
    const plans = {
      endExpired: db.prepare(`EXPLAIN QUERY PLAN ${SWEEP_SQL.endExpired}`).all({ now: 0, limit: 500 }),
      revokeIdle: db.prepare(`EXPLAIN QUERY PLAN ${SWEEP_SQL.revokeIdle}`).all({ now: 0, idleSince: 0, limit: 500, reason: 'x' }),
    };
    const details = (rows: unknown[]) => rows.map((r) => (r as { detail: string }).detail);
    assert.ok(details(plans.endExpired).includes('SEARCH sessions USING INDEX sessions_expiry (expires_at<?)'), details(plans.endExpired).join(' | '));
    assert.ok(details(plans.revokeIdle).includes('SEARCH sessions USING INDEX sessions_idle (last_activity_at<?)'), details(plans.revokeIdle).join(' | '));
    for (const rows of Object.values(plans)) {
      assert.ok(!details(rows).some((d) => d.startsWith('SCAN sessions')), `no full scan: ${details(rows).join(' | ')}`);
    }
  });

  it('with 100,000 stored sessions of which 100 expire, a sweep touches those 100 rows', async function () {
    clock.advance(61);
    const sweepTime = clock.now().getTime();
    // Rows the expiry range visits, counted by a function the engine calls once per row it reads from the index.
    let visited = 0;
    db.function('visit', () => {
      visited += 1;
      return 1;
    });
    db.prepare('SELECT id FROM sessions INDEXED BY sessions_expiry WHERE revoked_at IS NULL AND expires_at <= ? AND visit()').all(sweepTime);
    assert.equal(visited, EXPIRING, 'the index range holds exactly the sessions that expire');

    const started = performance.now();
    const report = await idp.running.idp.sweeper.sweep();
    const elapsedMs = performance.now() - started;
    assert.equal(report.expired, EXPIRING);
    assert.equal(report.idleRevoked, 0, 'the others are active and live');

    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    assert.equal(count(`SELECT count(*) AS n FROM sessions WHERE revoke_reason = 'expired'`), EXPIRING, 'exactly 100 rows changed');
    assert.equal(count('SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL'), STORED - EXPIRING, 'the other 99,900 untouched');
    assert.equal(count(`SELECT count(*) AS n FROM audit_log WHERE event = 'session.expired'`), EXPIRING, 'one audit entry per ended session');

    // A second sweep finds nothing: ended sessions left the partial indexes.
    visited = 0;
    db.prepare('SELECT id FROM sessions INDEXED BY sessions_expiry WHERE revoked_at IS NULL AND expires_at <= ? AND visit()').all(sweepTime);
    assert.equal(visited, 0);
    assert.equal((await idp.running.idp.sweeper.sweep()).expired, 0);
    this.test!.title += ` (sweep of 100 among 100,000: ${elapsedMs.toFixed(1)} ms)`;
  });
});
