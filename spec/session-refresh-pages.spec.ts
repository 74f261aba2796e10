import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DATABASE_FILE } from '../lib/store/index.js';
import { openDatabase } from '../lib/store/database.js';
import { REFRESH_LIVE_SESSION } from '../lib/store/sqlite-sessions.js';
import { idpInitiatedSignOn, openTask, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * What one sign-on writes to the WAL (migration 0008): a sign-on that refreshes
 * its session moves expires_at and last_activity_at, and must not rewrite the
 * live-session indexes by agent, task and NameID, which no longer carry
 * expires_at. Every page a commit changes is written to the WAL and synced, so
 * pages per sign-on are what a fleet's sign-on rate costs the disk.
 */

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** The b-tree (table or index) each WAL frame's page belongs to. */
function walPageOwners(dataDir: string, db: ReturnType<typeof openDatabase>): string[] {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const wal = readFileSync(path.join(dataDir, `${DATABASE_FILE}-wal`));
  const owner = db.prepare<[number], { name: string }>('SELECT name FROM dbstat WHERE pageno = ?');
  const owners: string[] = [];
  for (let offset = WAL_HEADER_BYTES; offset + FRAME_HEADER_BYTES + pageSize <= wal.length; offset += FRAME_HEADER_BYTES + pageSize) {
    const page = wal.readUInt32BE(offset);
    owners.push(owner.get(page)?.name ?? `page ${page}`);
  }
  return owners;
}

describe('pages a session refresh writes', function () {
  this.timeout(30_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;

  beforeEach(async () => {
    ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
  });
  afterEach(async () => idp.close());

  const signOn = async (task: string) => {
    const res = await idpInitiatedSignOn(idp, agent, sp.entityId, task);
    assert.equal(res.status, 200, res.body);
  };

  it('a refresh rewrites the expiry and idle indexes, not the live-session indexes by agent, task or NameID', async () => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    await signOn(task);
    const db = openDatabase(idp.dataDir);
    try {
      const before = db.prepare<[string], { expires_at: number; last_activity_at: number }>('SELECT expires_at, last_activity_at FROM sessions WHERE task_id = ?').get(task);
      assert.ok(before);
      // Everything so far into the database file, and the WAL started over: what follows is the refresh alone.
      db.pragma('wal_checkpoint(TRUNCATE)');
      await new Promise((resolve) => setTimeout(resolve, 5));
      await signOn(task);
      const after = db.prepare<{ task: string }, { expires_at: number; last_activity_at: number; n: number }>(
        'SELECT expires_at, last_activity_at, (SELECT COUNT(*) FROM sessions WHERE task_id = @task) AS n FROM sessions WHERE task_id = @task',
      ).get({ task });
      assert.ok(after);
      assert.equal(after.n, 1, 'the second sign-on refreshed the session');
      assert.ok(after.last_activity_at > before.last_activity_at, 'the refresh moved last_activity_at');

      const owners = walPageOwners(idp.dataDir, db);
      assert.ok(owners.includes('sessions'), `the session row was rewritten: ${owners.join(', ')}`);
      assert.ok(owners.includes('sessions_idle'), `the idle index follows last_activity_at: ${owners.join(', ')}`);
      for (const untouched of ['sessions_live_by_agent', 'sessions_live_by_task', 'sessions_live_by_name_id']) {
        assert.ok(!owners.includes(untouched), `${untouched} was rewritten by a refresh: ${owners.join(', ')}`);
      }
    } finally {
      db.close();
    }
  });

  it('revocation by agent or task, SP logout by NameID and the session refresh select through the index meant for them', () => {
    const db = openDatabase(idp.dataDir);
    try {
      const plan = (sql: string, params: Record<string, string | number> = {}) =>
        db
          .prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .all(params)
          .map((row) => (row as { detail: string }).detail)
          .join('; ');
      assert.match(plan("SELECT id FROM sessions WHERE agent_id = 'a' AND revoked_at IS NULL AND expires_at > 0"), /USING INDEX sessions_live_by_agent/);
      assert.match(plan("SELECT id FROM sessions WHERE task_id = 't' AND revoked_at IS NULL AND expires_at > 0"), /USING INDEX sessions_live_by_task/);
      assert.match(
        plan("SELECT id FROM sessions WHERE sp_entity_id = 's' AND name_id = 'n' AND revoked_at IS NULL AND expires_at > 0 ORDER BY created_at"),
        /USING INDEX sessions_live_by_name_id/,
      );
      // Its WHERE fits three live-session indexes; only the task's is narrow whatever the fleet.
      const refresh = plan(REFRESH_LIVE_SESSION, {
        assertionId: '_a', authnMethod: 'mtls', expiresAt: 1, now: 0, taskId: 't', agentId: 'a', spEntityId: 's', nameIdFormat: 'f', idleSince: 0,
      });
      assert.match(refresh, /SEARCH sessions USING INDEX sessions_live_by_task \(task_id=\?\)/, refresh);
      assert.doesNotMatch(refresh, /sessions_live_by_name_id|sessions_live_by_agent/, refresh);
    } finally {
      db.close();
    }
  });
});
