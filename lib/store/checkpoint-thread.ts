import { parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from './database.js';
import { checkpointWal } from './wal-checkpoint.js';

/*
 * The checkpoint thread (wal-checkpoint.ts startCheckpointThread): a connection
 * of its own, a timer, and nothing else. The database exists and is migrated:
 * the process that starts this thread opened it first.
 */

interface CheckpointThreadData {
  readonly dataDir: string;
  readonly intervalMs: number;
  readonly restartWalBytes: number;
}

const settings = workerData as CheckpointThreadData;

function open(): Database.Database | undefined {
  try {
    const db = new Database(path.join(settings.dataDir, DATABASE_FILE), { fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    // The checkpoint syncs the WAL before copying and the database file after: durability does not depend on this setting.
    db.pragma('synchronous = NORMAL');
    return db;
  } catch (error) {
    // Thrown out of the thread, a SqliteError reaches the parent as a bare { code }: send its message instead.
    parentPort?.postMessage({ error: `WAL checkpoint thread cannot open the database: ${String(error)}` });
    return undefined;
  }
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread (only the checkpoints run on it) between RESTART tries. */
function pauseThisThread(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

const db = open();
// Without a connection the thread has nothing to wait for and ends; stop() then finds it gone.
if (db) {
  const timer = setInterval(() => {
    try {
      checkpointWal(db, settings.restartWalBytes, pauseThisThread);
    } catch (error) {
      parentPort?.postMessage({ error: `WAL checkpoint failed: ${String(error)}` });
    }
  }, settings.intervalMs);

  parentPort?.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort?.close();
  });
}
