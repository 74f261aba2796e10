import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, withoutBusyWait, DATABASE_FILE, type SqliteDatabase } from './database.js';
import { checkpointWal, RESTART_WAL_BYTES, type CheckpointResult } from './wal-checkpoint.js';

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
 * Checkpoints are taken off the request path too (wal-checkpoint.ts).
 *
 * The sign-on path's reads (its SP, agent, credentials, task and risk baseline) share one
 * read transaction per turn of the event loop (`read`). On its own each such
 * read is a transaction of its own: file locks and a look at the WAL index,
 * ~8 µs against ~1 µs for the lookup itself on this class of machine. The
 * snapshot is ended before the turn's batch begins, and before any sync that
 * durable() starts: a write on this connection that is not batched (none of
 * the sign-on path's is) would join the read transaction, and is then still
 * committed before the sync that acknowledges it. What one turn
 * reads is what was committed when its first read ran: a change another
 * process commits during the turn is seen from the next turn on (as the
 * directory cache already does, directory-cache.ts), and the sign-on's write
 * re-checks, atomically, that its agent is active and its task open.
 *
 * The WAL file cannot be replaced under the descriptor: SQLite deletes it only
 * when the last connection closes, and this connection is open while the
 * descriptor is.
 */

export interface GroupCommitDatabase {
  readonly db: SqliteDatabase;
  /** Resolves once every commit this connection made before the call is on disk. Rejects if the sync fails. */
  durable(): Promise<void>;
  /**
   * A checkpoint now, on this connection (wal-checkpoint.ts checkpointWal). This
   * connection never checkpoints on its own; servers leave it to a checkpoint thread.
   */
  checkpoint(): CheckpointResult;
  /**
   * Runs a repository write (one of this connection's repositories) together
   * with the others queued in the same turn of the event loop, in one IMMEDIATE
   * transaction: pages they share are written to the WAL once, and the write
   * lock is taken once per batch. Each write keeps its own atomicity (the
   * repositories' transactions nest as savepoints) and its own outcome.
   */
  batch<T>(write: () => Promise<T>): Promise<T>;
  /**
   * Runs a read (a repository read of this connection that queries before it
   * first awaits) inside this turn's read transaction, opening it if needed.
   */
  read<T>(read: () => T): T;
  close(): void;
}

/** Immediate retries of a busy batch before retrying on a 1 ms timer. */
const IMMEDIATE_BUSY_RETRIES = 50;
/** A batch waits for the write lock at most this long, as SQLite's own busy timeout would. */
const MAX_BUSY_WAIT_MS = 5_000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
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
  // milliseconds. The sign-on path leaves checkpoints to a thread (wal-checkpoint.ts).
  db.pragma('wal_autocheckpoint = 0');
  // A restarted WAL is cut back to this size, so one burst does not keep its disk space forever.
  db.pragma(`journal_size_limit = ${restartWalBytes}`);
  const walPath = path.join(dataDir, `${DATABASE_FILE}-wal`);
  // total_changes() counts every row this connection has written: a commit counter that costs one step.
  const changes = db.prepare<[], number>('SELECT total_changes()').pluck();
  const beginSnapshot = db.prepare('BEGIN');
  const commitSnapshot = db.prepare('COMMIT');
  let snapshotOpen = false;
  const endSnapshot = (): void => {
    if (!snapshotOpen) return;
    snapshotOpen = false;
    if (db.inTransaction) commitSnapshot.run();
  };

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
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  let busyRetries = 0;
  let busySince = 0;
  const flushQueued = (): void => {
    endSnapshot();
    const batch = queued;
    queued = [];
    let outcomes: Array<Promise<unknown>>;
    // Another process (a second worker) may hold the write lock. SQLite's busy handler would
    // sleep on this event loop (1 ms, 2 ms, 5 ms …) with every request of this process waiting;
    // instead the lock is tried once and, if taken, the batch waits its turn asynchronously.
    try {
      // better-sqlite3 runs each repository method's statements synchronously, inside this
      // transaction; a method that awaited before writing would simply commit on its own.
      outcomes = withoutBusyWait(db, busyTimeout, () => runQueued.immediate(batch.map((item) => item.write)));
    } catch (error) {
      // Nothing of the batch is committed when BEGIN or COMMIT reports the database busy: run it again.
      if (isBusy(error) && (busyRetries === 0 || performance.now() - busySince < MAX_BUSY_WAIT_MS)) {
        if (busyRetries === 0) busySince = performance.now();
        busyRetries += 1;
        queued = batch.concat(queued);
        // A few immediate retries (the other writer holds the lock for well under a millisecond), then timer steps.
        if (busyRetries <= IMMEDIATE_BUSY_RETRIES) setImmediate(flushQueued);
        else setTimeout(flushQueued, 1);
        return;
      }
      busyRetries = 0;
      for (const item of batch) item.reject(error);
      if (queued.length > 0) setImmediate(flushQueued);
      return;
    }
    busyRetries = 0;
    batch.forEach((item, i) => outcomes[i]!.then(item.resolve, item.reject));
  };

  return {
    db,
    batch<T>(write: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        // A batch waiting for the lock (busyRetries > 0) already has its retry scheduled.
        if (queued.length === 0 && busyRetries === 0) setImmediate(flushQueued);
        queued.push({ write, resolve: resolve as (value: unknown) => void, reject });
      });
    },
    read<T>(read: () => T): T {
      // Inside a transaction already open on this connection (a batch's write), the read is simply part of it.
      if (!snapshotOpen && !db.inTransaction) {
        beginSnapshot.run();
        snapshotOpen = true;
        setImmediate(endSnapshot);
      }
      return read();
    },
    durable(): Promise<void> {
      // A write that was not batched, made while the snapshot was open, is committed with it: now, before the sync.
      endSnapshot();
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
      endSnapshot();
      return checkpointWal(db, restartWalBytes);
    },
    close(): void {
      endSnapshot();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      db.close();
    },
  };
}

type AsyncMethodKeys<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

/** The repository with the named methods' calls handed to `route`; every other method is the repository's own. */
function routeMethods<T extends object>(
  repository: T,
  methods: ReadonlyArray<AsyncMethodKeys<T>>,
  route: (call: () => Promise<unknown>) => Promise<unknown>,
): T {
  const routed = new Set<PropertyKey>(methods);
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (!routed.has(property)) return method.bind(target);
      return (...args: unknown[]) => route(() => method.apply(target, args));
    },
  });
}

/**
 * The repository with the named write methods routed through `batch`; every
 * other method is the repository's own.
 */
export function withBatchedWrites<T extends object>(repository: T, methods: ReadonlyArray<AsyncMethodKeys<T>>, database: GroupCommitDatabase): T {
  return routeMethods(repository, methods, (call) => database.batch(call));
}

/**
 * The repository with the named read methods run inside the turn's read
 * transaction (`read`); every other method is the repository's own.
 */
export function withSnapshotReads<T extends object>(repository: T, methods: ReadonlyArray<AsyncMethodKeys<T>>, database: GroupCommitDatabase): T {
  return routeMethods(repository, methods, (call) => database.read(call));
}
