import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { DATABASE_FILE, openGroupCommitDatabase, sqliteStore, withBatchedWrites, type GroupCommitDatabase } from '../lib/store/index.js';
import type { ReplayCache } from '../lib/common/replay-cache.js';
import { settled } from './support/store-fixtures.js';

/*
 * When another connection (another worker process, the checkpoint thread, an
 * admin command) holds SQLite's write lock, the sign-on connection must not
 * sleep in SQLite's busy handler: that sleep is on the event loop, and every
 * request of the process would wait with it. The batch waits its turn
 * asynchronously instead, for a bounded time, and commits once the lock is free.
 *
 * The lock holder here is a second connection in this very process: if the
 * batch blocked the event loop while waiting, the holder could never let go,
 * which is the sharpest way to see the difference.
 */

const NAMESPACE = 'contention';

/**
 * Counts event-loop activity: 1 ms interval ticks, turns of a setImmediate chain (capped, so the
 * watch does not spin a core for the whole wait), and the longest stall between ticks.
 */
function watchEventLoop(): { stop(): { ticks: number; turns: number; longestStallMs: number } } {
  const MAX_TURNS = 200;
  let ticks = 0;
  let turns = 0;
  let last = performance.now();
  let longestStallMs = 0;
  let running = true;
  const interval = setInterval(() => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, now - last);
    last = now;
    ticks += 1;
  }, 1);
  const turn = (): void => {
    if (!running || turns >= MAX_TURNS) return;
    turns += 1;
    setImmediate(turn);
  };
  setImmediate(turn);
  return {
    stop() {
      running = false;
      clearInterval(interval);
      longestStallMs = Math.max(longestStallMs, performance.now() - last);
      return { ticks, turns, longestStallMs };
    },
  };
}


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('group commit while another connection holds the write lock', function () {
  this.timeout(30_000);
  let dataDir: string;
  let database: GroupCommitDatabase;
  let replay: ReplayCache;
  /** The other writer. */
  let holder: Database.Database;
  /** Sees only what is committed. */
  let reader: Database.Database;

  beforeEach(function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-contention-'));
    database = openGroupCommitDatabase(dataDir);
    replay = withBatchedWrites(sqliteStore(database.db).replay, ['checkAndStore'], database);
    holder = new Database(path.join(dataDir, DATABASE_FILE));
    reader = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true });
  });

  afterEach(function () {
    if (holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    reader.close();
    database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const expires = (): Date => new Date(Date.now() + 60_000);
  const committedIds = (): string[] =>
    reader.prepare<[string], string>('SELECT id FROM replay_cache WHERE namespace = ? ORDER BY id').pluck().all(NAMESPACE);
  const busyTimeout = (): number => database.db.pragma('busy_timeout', { simple: true }) as number;

  it('waits for the lock without blocking the event loop, then commits every write queued meanwhile', async function () {
    assert.equal(busyTimeout(), 5000);
    holder.exec('BEGIN IMMEDIATE');
    const loop = watchEventLoop();
    const first = replay.checkAndStore(NAMESPACE, 'jti-0', expires(), new Date());
    const firstDone = settled(first);
    await sleep(30);
    // Queued while the first batch waits: they join it or follow it, and each keeps its own answer.
    const later = [1, 2, 3].map((i) => replay.checkAndStore(NAMESPACE, `jti-${i}`, expires(), new Date()));
    const duplicate = replay.checkAndStore(NAMESPACE, 'jti-1', expires(), new Date());
    const laterDone = later.map(settled);
    await sleep(120);
    const activity = loop.stop();

    assert.equal(firstDone(), false, 'the write finished while another connection held the write lock');
    assert.ok(laterDone.every((done) => !done()), 'a write queued behind the waiting batch finished while the lock was held');
    assert.deepEqual(committedIds(), [], 'nothing may be committed while the lock is held');
    assert.ok(activity.ticks >= 10, `the event loop ran only ${activity.ticks} timer ticks in 150 ms`);
    assert.ok(activity.turns >= 50, `the event loop turned only ${activity.turns} times in 150 ms`);
    assert.ok(activity.longestStallMs < 100, `the event loop stalled for ${activity.longestStallMs.toFixed(0)} ms`);
    // Between attempts the connection keeps its normal busy timeout for everything else it runs.
    assert.equal(busyTimeout(), 5000);

    holder.exec('COMMIT');
    assert.deepEqual(await Promise.all([first, ...later, duplicate]), [true, true, true, true, false]);
    assert.deepEqual(committedIds(), ['jti-0', 'jti-1', 'jti-2', 'jti-3']);
    assert.equal(busyTimeout(), 5000, 'the busy timeout was not restored');
    await database.durable();
  });

  it('runs each waiting write once, and a write that fails for its own reason fails alone', async function () {
    holder.exec('BEGIN IMMEDIATE');
    const plain = sqliteStore(database.db).replay;
    let runs = 0;
    const counted = database.batch(() => {
      runs += 1;
      return plain.checkAndStore(NAMESPACE, 'counted', expires(), new Date());
    });
    await sleep(20);
    const violating = database.batch(async () =>
      database.db.prepare('INSERT INTO replay_cache (namespace, id, expires_at) VALUES (?, NULL, 0)').run(NAMESPACE),
    );
    const throwing = database.batch(() => {
      throw new Error('a write that throws before it returns');
    });
    const healthy = replay.checkAndStore(NAMESPACE, 'healthy', expires(), new Date());
    await sleep(50);
    assert.equal(runs, 0, 'a write ran while its batch could not begin');
    holder.exec('COMMIT');

    const [countedOutcome, violatingOutcome, throwingOutcome, healthyOutcome] = await Promise.allSettled([counted, violating, throwing, healthy]);
    assert.deepEqual(countedOutcome, { status: 'fulfilled', value: true });
    assert.equal(violatingOutcome.status, 'rejected');
    assert.match(String((violatingOutcome as PromiseRejectedResult).reason?.code), /^SQLITE_CONSTRAINT/);
    assert.equal(throwingOutcome.status, 'rejected');
    assert.match(String((throwingOutcome as PromiseRejectedResult).reason), /throws before it returns/);
    assert.deepEqual(healthyOutcome, { status: 'fulfilled', value: true });
    assert.equal(runs, 1, 'a write was run more than once across the retries');
    assert.deepEqual(committedIds(), ['counted', 'healthy']);
    assert.equal(busyTimeout(), 5000);
  });

  it('gives up with SQLITE_BUSY after a bounded wait, without blocking, and recovers once the lock is free', async function () {
    holder.exec('BEGIN IMMEDIATE');
    const loop = watchEventLoop();
    const started = performance.now();
    const abandoned = replay.checkAndStore(NAMESPACE, 'abandoned', expires(), new Date());
    const alsoAbandoned = (async () => {
      await sleep(10);
      return replay.checkAndStore(NAMESPACE, 'also-abandoned', expires(), new Date());
    })();
    const outcomes = await Promise.allSettled([abandoned, alsoAbandoned]);
    const waitedMs = performance.now() - started;
    const activity = loop.stop();
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.match(String((outcome as PromiseRejectedResult).reason?.code), /^SQLITE_BUSY/);
    }
    // SQLite's own handler would have waited 5 s (busy_timeout) with the event loop stopped.
    assert.ok(waitedMs >= 4_000 && waitedMs < 20_000, `gave up after ${waitedMs.toFixed(0)} ms`);
    assert.ok(activity.longestStallMs < 200, `the event loop stalled for ${activity.longestStallMs.toFixed(0)} ms`);
    assert.equal(busyTimeout(), 5000);
    assert.deepEqual(committedIds(), []);

    holder.exec('COMMIT');
    assert.equal(await replay.checkAndStore(NAMESPACE, 'after', expires(), new Date()), true);
    assert.deepEqual(committedIds(), ['after']);
  });
});
