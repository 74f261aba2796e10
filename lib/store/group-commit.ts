import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, DATABASE_FILE, type SqliteDatabase } from './database.js';

/*
 * Group commit for the sign-on path.
 *
 * With synchronous=FULL every commit fsyncs the WAL while it holds SQLite's
 * write lock: about 0.5 ms on this class of machine, during which the event
 * loop is blocked and every other process that wants to write sleeps in
 * SQLite's busy handler (1 ms, then 2, 5, 10 … ms). Measured with two
 * processes writing: 242 and 1,268 commits/s, worst wait 1 s; with
 * synchronous=NORMAL 2,400 commits/s each, worst wait 19 ms.
 *
 * So the sign-on path writes through its own connection with
 * synchronous=NORMAL (in WAL mode a commit is then written to the WAL but not
 * synced), and before anything is acknowledged it awaits `durable()`: one
 * fdatasync of the WAL, run on libuv's thread pool, shared by every commit
 * made before it started. That is the durability FULL gives ("the WAL is
 * synced after each commit"), with the sync taken off the event loop and out
 * of the write lock, and paid once per batch instead of once per commit.
 *
 * Checkpoints are taken off the request path too (checkpoint()).
 *
 * The WAL file cannot be replaced under the descriptor: SQLite deletes it only
 * when the last connection closes, and this connection is open while the
 * descriptor is.
 */

const RESTART_WAL_BYTES = 64 * 1024 * 1024;
const RESTART_WAIT_MS = 25;

export interface GroupCommitDatabase {
  readonly db: SqliteDatabase;
  /** Resolves once every commit this connection made before the call is on disk. Rejects if the sync fails. */
  durable(): Promise<void>;
  /**
   * Copies committed WAL pages into the database file without blocking writers
   * (PASSIVE). This connection never checkpoints on its own: run this on a timer
   * in the process that runs the background jobs.
   *
   * Under a steady stream of commits a WAL is seldom entirely copied at the
   * moment a writer starts, which is when SQLite would start it over, so it
   * keeps growing. Past RESTART_WAL_BYTES this also asks for a RESTART
   * checkpoint, which holds writers back until the readers of the old WAL are
   * done: given at most RESTART_WAIT_MS, and tried again later if that is not enough.
   */
  checkpoint(): { readonly walPages: number; readonly checkpointed: number; readonly restarted: boolean };
  /**
   * Runs a repository write (one of this connection's repositories) together
   * with the others queued in the same turn of the event loop, in one IMMEDIATE
   * transaction: pages they share are written to the WAL once, and the write
   * lock is taken once per batch. Each write keeps its own atomicity (the
   * repositories' transactions nest as savepoints) and its own outcome.
   */
  batch<T>(write: () => Promise<T>): Promise<T>;
  close(): void;
}

interface Waiters {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function openGroupCommitDatabase(dataDir: string, options: { readonly restartWalBytes?: number } = {}): GroupCommitDatabase {
  const restartWalBytes = options.restartWalBytes ?? RESTART_WAL_BYTES;
  const db = openDatabase(dataDir, { synchronous: 'NORMAL' });
  // An automatic checkpoint runs inside whichever commit crosses the threshold: it copies
  // the WAL into the database and syncs both, blocking that request's event loop for
  // milliseconds. The sign-on path leaves checkpoints to checkpoint(), off its commits.
  db.pragma('wal_autocheckpoint = 0');
  // A restarted WAL is cut back to this size, so one burst does not keep its disk space forever.
  db.pragma(`journal_size_limit = ${restartWalBytes}`);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const walCheckpoint = (mode: 'PASSIVE' | 'RESTART') =>
    (db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>)[0] ?? { busy: 0, log: 0, checkpointed: 0 };
  const walPath = path.join(dataDir, `${DATABASE_FILE}-wal`);
  // total_changes() counts every row this connection has written: a commit counter that costs one step.
  const changes = db.prepare<[], number>('SELECT total_changes()').pluck();

  let fd: number | undefined;
  /** Changes known to be on disk. */
  let durableUpTo = 0;
  let inFlight: { covers: number; waiters: Waiters } | undefined;
  let next: Waiters | undefined;

  const walDescriptor = (): number => {
    if (fd !== undefined) return fd;
    fd = openSync(walPath, 'r');
    // The WAL's directory entry must survive a power loss too, once, when we first rely on it.
    const dir = openSync(path.dirname(walPath), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return fd;
  };

  const start = (group: Waiters): void => {
    const covers = changes.get() ?? 0;
    inFlight = { covers, waiters: group };
    let descriptor: number;
    try {
      descriptor = walDescriptor();
    } catch (error) {
      finish(error);
      return;
    }
    fdatasync(descriptor, (error) => finish(error ?? undefined));

    function finish(error: unknown): void {
      const done = inFlight!;
      inFlight = undefined;
      if (error === undefined) {
        durableUpTo = Math.max(durableUpTo, done.covers);
        done.waiters.resolve();
      } else {
        done.waiters.reject(error);
      }
      if (next) {
        const queued = next;
        next = undefined;
        start(queued);
      }
    }
  };

  let queued: Array<{ write: () => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  // One write's failure is its own: statements it ran stay as they would have in autocommit mode,
  // and a repository transaction that threw has already rolled back to its savepoint.
  const runQueued = db.transaction((writes: ReadonlyArray<() => Promise<unknown>>) =>
    writes.map((write) => {
      try {
        return write();
      } catch (error) {
        return Promise.reject(error);
      }
    }),
  );
  const flushQueued = (): void => {
    const batch = queued;
    queued = [];
    let outcomes: Array<Promise<unknown>>;
    try {
      // better-sqlite3 runs each repository method's statements synchronously, inside this
      // transaction; a method that awaited before writing would simply commit on its own.
      outcomes = runQueued.immediate(batch.map((item) => item.write));
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => outcomes[i]!.then(item.resolve, item.reject));
  };

  return {
    db,
    batch<T>(write: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queued.length === 0) setImmediate(flushQueued);
        queued.push({ write, resolve: resolve as (value: unknown) => void, reject });
      });
    },
    durable(): Promise<void> {
      const target = changes.get() ?? 0;
      if (target <= durableUpTo) return Promise.resolve();
      if (inFlight && inFlight.covers >= target) return inFlight.waiters.promise;
      if (inFlight) {
        next ??= waiters();
        return next.promise;
      }
      const group = waiters();
      start(group);
      return group.promise;
    },
    checkpoint() {
      const passive = walCheckpoint('PASSIVE');
      if (passive.log * pageSize < restartWalBytes) return { walPages: passive.log, checkpointed: passive.checkpointed, restarted: false };
      const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
      db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
      try {
        const restart = walCheckpoint('RESTART');
        return { walPages: restart.log, checkpointed: restart.checkpointed, restarted: restart.busy === 0 };
      } finally {
        db.pragma(`busy_timeout = ${busyTimeout}`);
      }
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      db.close();
    },
  };
}

type AsyncMethodKeys<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

/**
 * The repository with the named write methods routed through `batch`; every
 * other method is the repository's own.
 */
export function withBatchedWrites<T extends object>(repository: T, methods: ReadonlyArray<AsyncMethodKeys<T>>, database: GroupCommitDatabase): T {
  const batched = new Set<PropertyKey>(methods);
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (!batched.has(property)) return method.bind(target);
      return (...args: unknown[]) => database.batch(() => method.apply(target, args));
    },
  });
}
