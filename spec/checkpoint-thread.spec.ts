import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DATABASE_FILE, openGroupCommitDatabase, startCheckpointThread, type CheckpointThread, type GroupCommitDatabase } from '../lib/store/index.js';

/*
 * The sign-on connection never checkpoints (wal_autocheckpoint = 0): a thread
 * with a connection of its own does, on a timer (store/wal-checkpoint.ts). So
 * the only way the database file can take in the WAL's pages here is that
 * thread working; these tests watch the files, not the thread's internals.
 */

const RESTART_WAL_BYTES = 256 * 1024;
const INTERVAL_MS = 50;
const ROW_PAD = 'x'.repeat(4_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(condition: () => boolean, what: string, withinMs = 5_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await sleep(10);
  }
}

describe('WAL checkpoint thread', function () {
  this.timeout(30_000);
  let dataDir: string;
  let database: GroupCommitDatabase | undefined;
  let thread: CheckpointThread | undefined;
  const errors: string[] = [];

  beforeEach(function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-checkpoint-thread-'));
    errors.length = 0;
  });

  afterEach(async function () {
    await thread?.stop();
    thread = undefined;
    database?.close();
    database = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const databaseFile = (): string => path.join(dataDir, DATABASE_FILE);
  const walFile = (): string => `${databaseFile()}-wal`;
  const size = (file: string): number => (existsSync(file) ? statSync(file).size : 0);
  const start = (): CheckpointThread =>
    (thread = startCheckpointThread({ dataDir, intervalMs: INTERVAL_MS, restartWalBytes: RESTART_WAL_BYTES, onError: (message) => errors.push(message) }));

  function writeRows(db: GroupCommitDatabase, from: number, count: number): void {
    const insert = db.db.prepare('INSERT INTO probe VALUES (?, ?)');
    db.db.transaction(() => {
      for (let i = from; i < from + count; i++) insert.run(i, ROW_PAD);
    })();
  }

  it('is compiled beside the store, where startCheckpointThread looks for it', function () {
    assert.ok(existsSync(fileURLToPath(new URL('../lib/store/checkpoint-thread.js', import.meta.url))));
  });

  it('copies the WAL into the database on its timer so the WAL starts over and is cut back, and stops cleanly', async function () {
    database = openGroupCommitDatabase(dataDir, { restartWalBytes: RESTART_WAL_BYTES });
    database.db.exec('CREATE TABLE probe (n INTEGER PRIMARY KEY, pad TEXT)');
    writeRows(database, 0, 200);
    const before = size(databaseFile());
    assert.ok(size(walFile()) > 4 * RESTART_WAL_BYTES, `the WAL holds only ${size(walFile())} bytes`);

    start();
    // The rows' pages (about 800 KB) reach the database file only through a checkpoint.
    await eventually(() => size(databaseFile()) > before + 600 * 1024, 'a first checkpoint');
    const afterFirst = size(databaseFile());

    // Checkpointed to the end, the WAL starts over at the next commit, which cuts the file back to journal_size_limit.
    await eventually(() => {
      writeRows(database!, 1_000_000 + Math.floor(Math.random() * 1_000_000), 1);
      return size(walFile()) <= RESTART_WAL_BYTES;
    }, 'a WAL restart');

    // And it keeps going: a second burst is copied as well.
    writeRows(database, 200, 200);
    await eventually(() => size(databaseFile()) > afterFirst + 600 * 1024, 'a second checkpoint');
    assert.deepEqual(errors, []);

    const stopping = performance.now();
    await thread!.stop();
    thread = undefined;
    assert.ok(performance.now() - stopping < 2_000, 'stop() waited for the forced termination');

    // Stopped: a third burst stays in the WAL.
    const stoppedAt = size(databaseFile());
    writeRows(database, 400, 200);
    await sleep(INTERVAL_MS * 4);
    assert.equal(size(databaseFile()), stoppedAt, 'the database file changed after stop()');

    // The thread closed its connection: closing the last one ourselves checkpoints and deletes the WAL.
    database.close();
    database = undefined;
    assert.equal(existsSync(walFile()), false, 'the WAL outlived its last known connection: the thread left one open');
  });

  it('stops at once when stopped straight after starting', async function () {
    database = openGroupCommitDatabase(dataDir);
    const started = performance.now();
    await start().stop();
    thread = undefined;
    assert.ok(performance.now() - started < 2_000);
    assert.deepEqual(errors, []);
  });

  it('reports a directory without a database through onError, with the reason, and ends without throwing into the process', async function () {
    start();
    await eventually(() => errors.length > 0, 'an error report');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^WAL checkpoint thread cannot open the database: .*unable to open database file/);
    const stopping = performance.now();
    await thread!.stop();
    thread = undefined;
    assert.ok(performance.now() - stopping < 2_000, 'stop() waited for the forced termination');
  });

  it('reports a file that is not a database through onError, with the reason', async function () {
    writeFileSync(databaseFile(), Buffer.alloc(8_192, 0x5a));
    start();
    await eventually(() => errors.length > 0, 'an error report');
    assert.match(errors[0]!, /^WAL checkpoint thread cannot open the database: .*not a database/);
    await thread!.stop();
    thread = undefined;
  });
});
