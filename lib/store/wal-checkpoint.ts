import { Worker } from 'node:worker_threads';
import { withoutBusyWait, type SqliteDatabase } from './database.js';

/*
 * WAL checkpoints, off the request path. A checkpoint copies committed pages
 * from the WAL into the database file and syncs both: milliseconds of copying
 * and two fsyncs. Run inside a commit (SQLite's automatic checkpoint) or on the
 * server's event loop, that time lands on some request. So the sign-on
 * connection never checkpoints (group-commit.ts) and one thread of the process
 * that runs the background jobs does it, with a connection of its own.
 */

/** Past this size a WAL is restarted rather than only copied (see checkpointWal). */
export const RESTART_WAL_BYTES = 64 * 1024 * 1024;
/**
 * A RESTART is tried this many times per checkpoint, with a pause between tries
 * (when the caller can afford one), before it is left to the next checkpoint.
 */
const RESTART_TRIES = 20;
const RESTART_PAUSE_MS = 1;

export interface CheckpointResult {
  readonly walPages: number;
  readonly checkpointed: number;
  readonly restarted: boolean;
}

/**
 * Copies committed WAL pages into the database without blocking writers
 * (PASSIVE). Under a steady stream of commits a WAL is seldom entirely copied
 * at the moment a writer starts, which is when SQLite would start it over, so
 * it keeps growing; past `restartWalBytes` this also asks for a RESTART.
 *
 * A RESTART holds the write lock until no reader is left in the old WAL. With a
 * busy timeout, SQLite's busy handler sleeps (1, 2, 5 ms …) holding it, and
 * every writer waits too: 6-29 ms stalls every 5 s at 1,000 sign-ons/s. So the
 * RESTART is tried without one: each try holds the lock only to copy what was
 * committed since the last and to find readers still there. `pause` runs
 * between tries, while writers go on; without it the RESTART is tried once.
 */
export function checkpointWal(db: SqliteDatabase, restartWalBytes: number = RESTART_WAL_BYTES, pause?: (ms: number) => void): CheckpointResult {
  const run = (mode: 'PASSIVE' | 'RESTART') =>
    (db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>)[0] ?? { busy: 0, log: 0, checkpointed: 0 };
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const passive = run('PASSIVE');
  if (passive.log * pageSize < restartWalBytes) return { walPages: passive.log, checkpointed: passive.checkpointed, restarted: false };
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  return withoutBusyWait(db, busyTimeout, () => {
    const tries = pause ? RESTART_TRIES : 1;
    for (let attempt = 1; ; attempt++) {
      const restart = run('RESTART');
      if (restart.busy === 0 || attempt >= tries) return { walPages: restart.log, checkpointed: restart.checkpointed, restarted: restart.busy === 0 };
      pause?.(RESTART_PAUSE_MS);
    }
  });
}

export interface CheckpointThread {
  /** Stops the timer and closes the thread's connection. */
  stop(): Promise<void>;
}

/** Checkpoints the data directory's database every `intervalMs` on a thread of its own. */
export function startCheckpointThread(options: {
  readonly dataDir: string;
  readonly intervalMs: number;
  readonly restartWalBytes?: number;
  readonly onError: (message: string) => void;
  /** The thread ended although nobody stopped it (it could not open the database, or crashed). */
  readonly onUnexpectedExit?: () => void;
}): CheckpointThread {
  const worker = new Worker(new URL('./checkpoint-thread.js', import.meta.url), {
    workerData: { dataDir: options.dataDir, intervalMs: options.intervalMs, restartWalBytes: options.restartWalBytes ?? RESTART_WAL_BYTES },
  });
  worker.unref();
  worker.on('message', (message: { error?: string }) => {
    if (message.error) options.onError(message.error);
  });
  worker.on('error', (error) => options.onError(String(error)));
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      if (!stopping) options.onUnexpectedExit?.();
      resolve();
    }),
  );
  return {
    stop: async () => {
      stopping = true;
      worker.postMessage('stop');
      const force = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(force);
    },
  };
}
