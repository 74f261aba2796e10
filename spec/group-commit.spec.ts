import { strict as assert } from 'node:assert';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openGroupCommitDatabase, sqliteStore, withBatchedWrites, withSnapshotReads, DATABASE_FILE, type GroupCommitDatabase } from '../lib/store/index.js';
import type { Session } from '../lib/sessions/session.js';
import { openTaskRecord, settled } from './support/store-fixtures.js';
import { checkpointWal } from '../lib/store/wal-checkpoint.js';
import { SyncObserver } from './support/sync-observer.js';

/*
 * The sign-on path's connection: commits are not synced one by one, so these
 * tests pin down what replaces that: a write is durable only once durable()
 * has seen a sync of the WAL start after it, syncs are shared, a failed sync
 * fails the caller, and batched writes keep their own outcomes.
 */

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit on the sign-on connection', function () {
  let dataDir: string;
  let database: GroupCommitDatabase;

  beforeEach(function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-group-commit-'));
    database = openGroupCommitDatabase(dataDir);
  });

  afterEach(function () {
    database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function agentWithTask(): Promise<{ agentId: string; taskId: string }> {
    const store = sqliteStore(database.db);
    const now = new Date();
    const agent = await store.agents.create(
      {
        id: randomUUID(),
        userName: `agent-${randomUUID().slice(0, 8)}`,
        active: true,
        externalId: undefined,
        profile: {
          owner: undefined,
          modelHash: undefined,
          sourceCommit: undefined,
          trainingDataVersion: undefined,
          sensitivityTier: 'medium',
          computeZone: undefined,
          allowedCidrs: [],
          scopes: ['invoices:read'],
        },
        extraAttributes: {},
        certificates: [],
      },
      now,
    );
    const task = await store.tasks.create(openTaskRecord(agent.id, now));
    return { agentId: agent.id, taskId: task.id };
  }

  function session(agentId: string, taskId: string, overrides: Partial<Session> = {}): Session {
    const now = new Date();
    return {
      id: randomUUID(),
      sessionIndex: `_${randomUUID().replaceAll('-', '')}`,
      agentId,
      taskId,
      spEntityId: `https://sp-${randomUUID().slice(0, 8)}.example.test`,
      nameId: 'agent',
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      assertionId: `_${randomUUID().replaceAll('-', '')}`,
      authnMethod: 'mtls',
      createdAt: now,
      expiresAt: new Date(now.getTime() + 600_000),
      revokedAt: undefined,
      revokeReason: undefined,
      ...overrides,
    };
  }

  describe('durable()', function () {
    const observer = new SyncObserver();
    beforeEach(() => observer.install());
    afterEach(() => observer.restore());

    it('resolves only after a WAL sync that started after the commit, shared by every waiter', async function () {
      database.db.exec('CREATE TABLE probe (n INTEGER)');
      database.db.prepare('INSERT INTO probe VALUES (1)').run();
      const first = database.durable();
      const second = database.durable();
      const firstDone = settled(first);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(observer.started.length, 1, 'one sync for both waiters');
      assert.equal(firstDone(), false, 'durable() resolved before the sync completed');
      observer.started[0]!.release();
      await Promise.all([first, second]);
    });

    it('waits for the next sync when the commit came after the sync in flight began', async function () {
      database.db.exec('CREATE TABLE probe (n INTEGER)');
      const early = database.durable();
      await new Promise((resolve) => setTimeout(resolve, 20));
      database.db.prepare('INSERT INTO probe VALUES (2)').run();
      const late = database.durable();
      const lateDone = settled(late);
      observer.started[0]!.release();
      await early;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(lateDone(), false, 'a commit made during a sync was reported durable by that sync');
      assert.equal(observer.started.length, 2, 'a second sync covers the later commit');
      observer.started[1]!.release();
      await late;
    });

    it('costs nothing when nothing was written since the last sync', async function () {
      database.db.exec('CREATE TABLE probe (n INTEGER)');
      const first = database.durable();
      await new Promise((resolve) => setTimeout(resolve, 20));
      observer.started[0]!.release();
      await first;
      await database.durable();
      assert.equal(observer.started.length, 1);
    });

    it('fails the caller when the sync fails: nothing is acknowledged on a failed sync', async function () {
      database.db.exec('CREATE TABLE probe (n INTEGER)');
      const pending = database.durable();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }) as NodeJS.ErrnoException;
      observer.started[0]!.release(failure);
      await assert.rejects(pending, /EIO/);
    });
  });

  describe('batch()', function () {
    it('commits the writes of one turn in one transaction, each with its own outcome', async function () {
      const { agentId, taskId } = await agentWithTask();
      const repositories = sqliteStore(database.db);
      const sessions = withBatchedWrites(repositories.sessions, ['createIfTaskOpen'], database);
      const replay = withBatchedWrites(repositories.replay, ['checkAndStore'], database);
      const observer = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true });
      try {
        const version = () => observer.pragma('data_version', { simple: true }) as number;
        const before = version();
        const expires = new Date(Date.now() + 60_000);
        const outcomes = await Promise.all([
          sessions.createIfTaskOpen(session(agentId, taskId), new Date()),
          sessions.createIfTaskOpen(session(agentId, taskId), new Date()),
          sessions.createIfTaskOpen(session(agentId, randomUUID()), new Date()),
          replay.checkAndStore('test', 'jti-1', expires, new Date()),
          replay.checkAndStore('test', 'jti-1', expires, new Date()),
        ]);
        assert.deepEqual(outcomes, [true, true, false, true, false]);
        assert.equal(version() - before, 1, 'the five writes committed once');
        assert.equal((await repositories.sessions.listLiveForAgent(agentId, new Date())).length, 2);
      } finally {
        observer.close();
      }
    });

    it('rejects a failing write alone: the others in its batch commit', async function () {
      const { agentId, taskId } = await agentWithTask();
      const repositories = sqliteStore(database.db);
      const sessions = withBatchedWrites(repositories.sessions, ['createIfTaskOpen', 'openOrRefresh'], database);
      const duplicate = session(agentId, taskId);
      await sessions.createIfTaskOpen(duplicate, new Date());
      const [again, fresh] = await Promise.allSettled([
        sessions.createIfTaskOpen(duplicate, new Date()),
        sessions.openOrRefresh(session(agentId, taskId), new Date(), undefined),
      ]);
      assert.equal(again.status, 'rejected', 'a second session with the same id must fail');
      assert.equal(fresh.status, 'fulfilled');
      assert.ok(fresh.status === 'fulfilled' && fresh.value !== undefined);
      await turn();
      const live = await repositories.sessions.listLiveForAgent(agentId, new Date());
      assert.equal(live.length, fresh.status === 'fulfilled' && fresh.value?.refreshed ? 1 : 2);
    });

    it('leaves methods that are not named alone', async function () {
      const { agentId } = await agentWithTask();
      const repositories = sqliteStore(database.db);
      const sessions = withBatchedWrites(repositories.sessions, ['createIfTaskOpen'], database);
      assert.deepEqual(await sessions.listLiveForAgent(agentId, new Date()), []);
      assert.equal(await sessions.get(randomUUID()), undefined);
    });
  });

  describe('read()', function () {
    it('gives the reads of one turn one snapshot: what another connection commits meanwhile is seen from the next turn', async function () {
      const { agentId } = await agentWithTask();
      const tasks = withSnapshotReads(sqliteStore(database.db).tasks, ['get'], database);
      const other = new Database(path.join(dataDir, DATABASE_FILE));
      try {
        const later = openTaskRecord(agentId, new Date());
        assert.equal(await tasks.get(later.id), undefined);
        await sqliteStore(other).tasks.create(later);
        assert.equal(await tasks.get(later.id), undefined, 'a read later in the same turn saw a newer commit');
        await turn();
        assert.equal((await tasks.get(later.id))?.id, later.id);
      } finally {
        other.close();
      }
    });

    it("ends the snapshot before the turn's batch, and reads after the batch see its writes", async function () {
      const { agentId, taskId } = await agentWithTask();
      const repositories = sqliteStore(database.db);
      const tasks = withSnapshotReads(repositories.tasks, ['get'], database);
      const sessions = withBatchedWrites(repositories.sessions, ['createIfTaskOpen'], database);
      const written = session(agentId, taskId);
      assert.equal((await tasks.get(taskId))?.id, taskId);
      assert.equal(await sessions.createIfTaskOpen(written, new Date()), true);
      assert.equal((await tasks.get(taskId))?.id, taskId);
      assert.equal((await repositories.sessions.get(written.id))?.id, written.id);
    });

    it('reads inside a transaction already open on the connection as part of it', async function () {
      const { taskId } = await agentWithTask();
      const tasks = withSnapshotReads(sqliteStore(database.db).tasks, ['get'], database);
      let inside: ReturnType<typeof tasks.get> | undefined;
      database.db.transaction(() => {
        inside = tasks.get(taskId);
      })();
      assert.equal((await inside!)?.id, taskId);
      assert.equal((await tasks.get(taskId))?.id, taskId);
    });

    it('commits a write that was not batched, made while the snapshot was open, before the sync durable() starts', async function () {
      const { agentId, taskId } = await agentWithTask();
      const repositories = sqliteStore(database.db);
      const tasks = withSnapshotReads(repositories.tasks, ['get'], database);
      const observer = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true });
      try {
        const seen = (id: string) => observer.prepare('SELECT count(*) FROM sessions WHERE id = ?').pluck().get(id);
        const written = session(agentId, taskId);
        await tasks.get(taskId);
        assert.equal(await repositories.sessions.createIfTaskOpen(written, new Date()), true);
        assert.equal(seen(written.id), 0, 'inside the open snapshot the write is not committed yet');
        const synced = database.durable();
        assert.equal(seen(written.id), 1, 'durable() started its sync before the write was committed');
        await synced;
      } finally {
        observer.close();
      }
    });
  });

  it('never checkpoints inside a commit; checkpoint() does, without blocking writers', function () {
    database.db.exec('CREATE TABLE probe (n INTEGER, pad TEXT)');
    const insert = database.db.prepare('INSERT INTO probe VALUES (?, ?)');
    // Far past the default 1,000-page threshold at which a commit would checkpoint.
    for (let i = 0; i < 1_500; i++) insert.run(i, 'x'.repeat(4_000));
    const walPages = fs.statSync(path.join(dataDir, `${DATABASE_FILE}-wal`)).size / 4_096;
    assert.ok(walPages > 1_500, `the WAL holds ${walPages} pages: a commit checkpointed`);
    const result = database.checkpoint();
    assert.ok(result.walPages > 1_500);
    assert.equal(result.checkpointed, result.walPages);
  });

  it('tries a RESTART without holding writers back: between tries others commit, and the WAL restarts once its reader is done', function () {
    const limit = 256 * 1024;
    const small = openGroupCommitDatabase(dataDir, { restartWalBytes: limit });
    const reader = new Database(path.join(dataDir, DATABASE_FILE));
    const writer = new Database(path.join(dataDir, DATABASE_FILE));
    try {
      small.db.exec('CREATE TABLE probe (n INTEGER, pad TEXT)');
      const insert = small.db.prepare('INSERT INTO probe VALUES (?, ?)');
      for (let i = 0; i < 300; i++) insert.run(i, 'x'.repeat(4_000));
      // A reader inside the WAL: no RESTART can succeed until it is done.
      reader.prepare('BEGIN').run();
      reader.prepare('SELECT count(*) FROM probe').pluck().get();
      writer.pragma('busy_timeout = 0');
      const write = writer.prepare('INSERT INTO probe VALUES (?, ?)');
      assert.equal(checkpointWal(small.db, limit).restarted, false, 'without a pause, one try');
      let pauses = 0;
      const started = performance.now();
      const result = checkpointWal(small.db, limit, () => {
        pauses += 1;
        // SQLITE_BUSY here would mean the checkpoint kept the write lock between its tries.
        write.run(1_000 + pauses, 'w');
        if (pauses === 3) reader.prepare('COMMIT').run();
      });
      assert.equal(pauses, 3);
      assert.equal(result.restarted, true);
      // The connection's busy timeout is 5 s: a try that waited on the reader would have taken that long.
      assert.ok(performance.now() - started < 2_000, `the tries took ${Math.round(performance.now() - started)} ms`);
      assert.equal(small.db.prepare('SELECT count(*) FROM probe').pluck().get(), 303);
    } finally {
      reader.close();
      writer.close();
      small.close();
    }
  });

  it('restarts a WAL that outgrew its limit, cutting the file back, once its readers are done', function () {
    const small = openGroupCommitDatabase(dataDir, { restartWalBytes: 256 * 1024 });
    try {
      small.db.exec('CREATE TABLE probe (n INTEGER, pad TEXT)');
      const insert = small.db.prepare('INSERT INTO probe VALUES (?, ?)');
      for (let i = 0; i < 300; i++) insert.run(i, 'x'.repeat(4_000));
      const walFile = path.join(dataDir, `${DATABASE_FILE}-wal`);
      assert.ok(fs.statSync(walFile).size > 1024 * 1024);
      const result = small.checkpoint();
      assert.equal(result.restarted, true);
      // The next commit starts the WAL over, and the file is cut back to the limit.
      insert.run(301, 'y');
      assert.ok(fs.statSync(walFile).size <= 256 * 1024, `WAL still ${fs.statSync(walFile).size} bytes`);
      assert.equal(small.db.prepare('SELECT count(*) FROM probe').pluck().get(), 301);
    } finally {
      small.close();
    }
  });
});
