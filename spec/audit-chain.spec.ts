import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { agentJwt, openTask, provisionAgent, startTestIdp, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { copyDataDir, openDirectly, tessera, writeConfig } from './support/lifecycle-tools.js';
import { chainHash, type AuditEntry, type RawAuditRow } from '../lib/audit/index.js';

interface ExportedLine {
  seq: number;
  time: string;
  event: string;
  actor: string;
  agentId: string | null;
  agent: string | null;
  taskId: string | null;
  spEntityId: string | null;
  assertionId: string | null;
  modelHash: string | null;
  sourceCommit: string | null;
  trainingDataVersion: string | null;
  reason: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

const TRIGGERS = ['audit_log_no_update', 'audit_log_no_delete', 'audit_log_extends_head', 'audit_checkpoints_no_update', 'audit_checkpoints_no_delete'];

/** What an attacker with the file does first: remove the database's own protection. */
function dropTriggers(db: ReturnType<typeof openDirectly>): void {
  for (const trigger of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
}

/** Re-hashes entries from `fromSeq` on, so each is self-consistent and linked to its predecessor. */
function rehashFrom(db: ReturnType<typeof openDirectly>, fromSeq: number): void {
  const rows = db.prepare<[number], RawAuditRow>('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq').all(fromSeq);
  let previous = db.prepare<[number], { hash: string }>('SELECT hash FROM audit_log WHERE seq = ?').get(fromSeq - 1)?.hash ?? '0'.repeat(64);
  const update = db.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const row of rows) {
    const { hash: _old, ...rest } = row;
    const hash = chainHash({ ...rest, prev_hash: previous });
    update.run(previous, hash, row.seq);
    previous = hash;
  }
}

describe('audit trail: hash chain, append-only table, verify and export', function () {
  this.timeout(120_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let other: TestAgent;
  let sp: NodeSamlSp;
  let taskId: string;
  let assertionId: string;
  const copies: string[] = [];

  before(async function () {
    // A checkpoint every 4 entries, so the real log carries several.
    idp = await startTestIdp({ env: { TESSERA_CONFIG: writeConfig('audit:\n  checkpointEveryEntries: 4\n') } });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp, { profile: { modelHash: 'sha256:feedface', sourceCommit: 'abc1234', trainingDataVersion: 'td-7' } });
    other = await provisionAgent(idp);
    taskId = await openTask(idp, { agent: agent.userName, tier: 'high' });
    const issued = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId, authorization: `Bearer ${await agentJwt(idp, agent)}` },
    });
    assert.equal(issued.status, 200, issued.body);
    const xml = Buffer.from(issued.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assertionId = /<saml:Assertion[^>]* ID="([^"]+)"/.exec(xml)?.[1] ?? '';
    const denied = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', authorization: `Bearer ${await agentJwt(idp, agent)}` },
    });
    assert.equal(denied.status, 403);
    const otherTask = await openTask(idp, { agent: other.userName, tier: 'low' });
    const ended = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}`,
      headers: { authorization: `Bearer ${idp.orchestratorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    assert.equal(ended.status, 200, ended.body);
    assert.ok(otherTask);
    await idp.running.idp.auditLog.flush();
    await idp.running.idp.auditCheckpoints.checkpoint();
  });

  after(async function () {
    await idp.close();
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
  });

  function copy(): string {
    const dir = copyDataDir(idp);
    copies.push(dir);
    return dir;
  }

  async function entries(): Promise<AuditEntry[]> {
    const all: AuditEntry[] = [];
    for await (const entry of idp.running.idp.store.audit.query({})) all.push(entry);
    return all;
  }

  it('records every decision with the agent, task, SP, assertion and provenance of that moment', async function () {
    const log = await entries();
    const events = log.map((e) => e.event);
    for (const expected of ['agent.provisioned', 'task.opened', 'signon.issued', 'signon.denied', 'task.ended']) {
      assert.ok(events.includes(expected), `${expected} is recorded (got ${events.join(', ')})`);
    }
    const issued = log.find((e) => e.event === 'signon.issued')!;
    assert.equal(issued.assertionId, assertionId);
    assert.equal(issued.agentId, agent.id);
    assert.equal(issued.agentUserName, agent.userName);
    assert.equal(issued.taskId, taskId);
    assert.equal(issued.spEntityId, sp.entityId);
    assert.equal(issued.modelHash, 'sha256:feedface');
    assert.equal(issued.sourceCommit, 'abc1234');
    assert.equal(issued.trainingDataVersion, 'td-7');
    const denied = log.find((e) => e.event === 'signon.denied')!;
    assert.equal(denied.reason, 'task_missing');
    log.forEach((entry, i) => {
      assert.equal(entry.seq, i + 1, 'sequence numbers run 1, 2, 3…');
      assert.equal(entry.prevHash, i === 0 ? '0'.repeat(64) : log[i - 1]!.hash, 'each entry names its predecessor');
    });
    const checkpoints = await idp.running.idp.store.audit.checkpointsRaw();
    assert.ok(checkpoints.length >= 2, `checkpoints were signed along the way (${checkpoints.length})`);
    assert.equal(checkpoints[checkpoints.length - 1]!.seq, log.length, 'the head is checkpointed');
  });

  it('the database refuses UPDATE and DELETE on the log, and inserts that do not extend the head', function () {
    const db = openDirectly(idp.dataDir);
    try {
      assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1").run(), /append-only: UPDATE refused/);
      assert.throws(() => db.prepare('DELETE FROM audit_log WHERE seq = 1').run(), /append-only: DELETE refused/);
      assert.throws(() => db.prepare('DELETE FROM audit_checkpoints').run(), /append-only: DELETE refused/);
      assert.throws(
        () =>
          db
            .prepare("INSERT INTO audit_log (seq, at, event, actor, details, prev_hash, hash) VALUES (999, 0, 'x', 'y', '{}', 'bad', 'bad')")
            .run(),
        /must extend the head/,
      );
    } finally {
      db.close();
    }
  });

  it('tessera audit verify exits 0 on the real log, written over HTTPS, while the IdP runs', async function () {
    const result = tessera(['audit', 'verify', '--data-dir', idp.dataDir]);
    assert.equal(result.status, 0, result.stderr);
    const count = (await entries()).length;
    assert.match(result.stdout, new RegExp(`^audit log intact: ${count} entries, head [0-9a-f]{64}, \\d+ signed checkpoints\\n$`));
  });

  /** Tampering scenarios on copies of the real database; triggers are dropped first in each. */
  const tamperings: Array<{ name: string; seq: number; tamper: (db: ReturnType<typeof openDirectly>) => void; expect: RegExp }> = [
    {
      name: 'an altered entry',
      seq: 3,
      tamper: (db) => db.prepare(`UPDATE audit_log SET details = '{"scopes":["everything"]}' WHERE seq = 3`).run(),
      expect: /does not match its hash/,
    },
    {
      name: 'an altered entry whose own hash was recomputed',
      seq: 3,
      tamper: (db) => {
        db.prepare("UPDATE audit_log SET actor = 'orchestrator:innocent' WHERE seq = 3").run();
        const row = db.prepare<[], RawAuditRow>('SELECT * FROM audit_log WHERE seq = 3').get()!;
        const { hash: _old, ...rest } = row;
        db.prepare('UPDATE audit_log SET hash = ? WHERE seq = 3').run(chainHash(rest));
      },
      expect: /entry 3 does not match the hash entry 4 recorded/,
    },
    {
      name: 'a deleted entry',
      seq: 5,
      tamper: (db) => db.prepare('DELETE FROM audit_log WHERE seq = 5').run(),
      expect: /sequence 5 is absent/,
    },
    {
      name: 'a deleted entry with the later ones renumbered',
      seq: 5,
      tamper: (db) => {
        db.prepare('DELETE FROM audit_log WHERE seq = 5').run();
        db.prepare('UPDATE audit_log SET seq = -seq WHERE seq > 5').run();
        db.prepare('UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0').run();
      },
      expect: /entry 5 does not match its hash/,
    },
    {
      name: 'two entries swapped',
      seq: 2,
      tamper: (db) => {
        db.prepare('UPDATE audit_log SET seq = -1 WHERE seq = 2').run();
        db.prepare('UPDATE audit_log SET seq = 2 WHERE seq = 6').run();
        db.prepare('UPDATE audit_log SET seq = 6 WHERE seq = -1').run();
      },
      expect: /entry 2 does not match its hash/,
    },
  ];

  for (const { name, seq, tamper, expect } of tamperings) {
    it(`tessera audit verify names sequence ${seq} for ${name}`, function () {
      const dir = copy();
      const db = openDirectly(dir);
      try {
        dropTriggers(db);
        tamper(db);
      } finally {
        db.close();
      }
      const result = tessera(['audit', 'verify', '--data-dir', dir]);
      assert.equal(result.status, 1, `verify must fail: ${result.stdout}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^tessera: audit log broken at sequence ${seq}: `));
      assert.match(result.stderr, expect);
      assert.equal(result.stderr.split('\n').length, 2, 'one line on stderr');
    });
  }

  it('detects a chain rewritten end to end (every hash recomputed) through the signed checkpoints', async function () {
    const checkpoints = (await idp.running.idp.store.audit.checkpointsRaw()).map((c) => c.seq as number);
    const target = checkpoints[0]! + 1; // an entry after the first checkpoint
    const dir = copy();
    const db = openDirectly(dir);
    try {
      dropTriggers(db);
      db.prepare("UPDATE audit_log SET reason = 'rewritten' WHERE seq = ?").run(target);
      rehashFrom(db, target);
    } finally {
      db.close();
    }
    const result = tessera(['audit', 'verify', '--data-dir', dir]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`broken at sequence ${checkpoints[0]! + 1}: .*does not match its signed checkpoint: entries after ${checkpoints[0]} were rewritten`));
  });

  it('detects a tail cut off after the last checkpoint was signed', async function () {
    const count = (await entries()).length;
    const dir = copy();
    const db = openDirectly(dir);
    try {
      dropTriggers(db);
      db.prepare('DELETE FROM audit_log WHERE seq > ?').run(count - 2);
    } finally {
      db.close();
    }
    const result = tessera(['audit', 'verify', '--data-dir', dir]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`broken at sequence ${count - 1}: the log ends at sequence ${count - 2} but a signed checkpoint covers sequence \\d+`));
  });

  it('refuses checkpoints the attacker re-made after rewriting, since only the IdP key (sealed under the KEK) can sign them', async function () {
    const dir = copy();
    const db = openDirectly(dir);
    try {
      dropTriggers(db);
      db.prepare("UPDATE audit_log SET actor = 'forged' WHERE seq = 1").run();
      rehashFrom(db, 1);
      // A forged checkpoint set: the new hashes, but signatures the attacker cannot make with the IdP key.
      const heads = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_log').all();
      const byseq = new Map(heads.map((h) => [h.seq, h.hash]));
      for (const cp of db.prepare<[], { seq: number }>('SELECT seq FROM audit_checkpoints').all()) {
        db.prepare('UPDATE audit_checkpoints SET hash = ? WHERE seq = ?').run(byseq.get(cp.seq), cp.seq);
      }
    } finally {
      db.close();
    }
    const result = tessera(['audit', 'verify', '--data-dir', dir]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /broken at sequence 1: the checkpoint at sequence \d+ has an invalid signature/);
  });

  it('tessera audit export writes JSON Lines, filtered by agent, task and time', async function () {
    const all = tessera(['audit', 'export', '--data-dir', idp.dataDir]);
    assert.equal(all.status, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as ExportedLine);
    assert.equal(lines.length, (await entries()).length);
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));

    const byName = tessera(['audit', 'export', '--agent', agent.userName.toUpperCase(), '--data-dir', idp.dataDir]);
    const agentLines = byName.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as ExportedLine);
    assert.ok(agentLines.length >= 4);
    assert.ok(agentLines.every((l) => l.agentId === agent.id), 'only this agent, found by userName case-insensitively');
    const issued = agentLines.find((l) => l.event === 'signon.issued')!;
    assert.equal(issued.assertionId, assertionId);
    assert.equal(issued.modelHash, 'sha256:feedface');
    assert.equal(issued.details.authnMethod, 'jwt');
    const byId = tessera(['audit', 'export', '--agent', agent.id, '--data-dir', idp.dataDir]);
    assert.equal(byId.stdout, byName.stdout, 'the agent id finds the same entries');

    const byTask = tessera(['audit', 'export', '--task', taskId, '--data-dir', idp.dataDir]);
    const taskEvents = byTask.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as ExportedLine).event);
    assert.deepEqual(taskEvents.filter((e) => e !== 'signon.denied'), ['task.opened', 'signon.issued', 'task.ended']);

    const future = tessera(['audit', 'export', '--since', '2999-01-01', '--data-dir', idp.dataDir]);
    assert.equal(future.status, 0);
    assert.equal(future.stdout, '');
    const until = lines[2]!.time;
    const early = tessera(['audit', 'export', '--until', new Date(Date.parse(until) + 1).toISOString(), '--data-dir', idp.dataDir]);
    const earlyLines = early.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as ExportedLine);
    assert.ok(earlyLines.length >= 3 && earlyLines.every((l) => Date.parse(l.time) <= Date.parse(until)));

    const bad = tessera(['audit', 'export', '--since', 'yesterday', '--data-dir', idp.dataDir]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^tessera: --since must be an ISO 8601 date or time/);
  });
});
