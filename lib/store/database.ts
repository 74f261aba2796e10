import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { migrations } from './migrations/index.js';

export type SqliteDatabase = Database.Database;

export const DATABASE_FILE = 'tessera.db';

const PAGE_CACHE_KIB = 64 * 1024;

export interface OpenDatabaseOptions {
  /**
   * FULL (the default) syncs the WAL at every commit. NORMAL leaves that to the
   * caller: only for a connection whose every acknowledgement waits for a WAL
   * sync of its own (group-commit.ts).
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

/** Opens (creating if needed) the database in dataDir, in WAL mode, with every migration applied. */
export function openDatabase(dataDir: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  db.pragma('journal_mode = WAL');
  // FULL: a sign-on is acknowledged only once its session survives power loss, not just a crash.
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // SQLite's default page cache is 2 MiB per connection: a sign-on touches a dozen index pages
  // at random keys (sessions, audit log), which then come back through a read() each time.
  // No memory-mapped I/O: with several writing processes (cluster workers) a read after another
  // connection's commit took 231 µs mapped against 46 µs through read() (same-run measurement).
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  // Batched sign-on writes nest as savepoints (group-commit.ts): each page a savepoint touches is
  // first copied to a statement journal, by default a temporary file (a write() per page). In memory
  // an audit append inside a batch took 62 µs instead of 95–113 µs.
  db.pragma('temp_store = MEMORY');
  applyMigrations(db);
  return db;
}

/**
 * Runs `run` with SQLite's busy handler off: a statement that finds the lock taken fails at
 * once with SQLITE_BUSY instead of sleeping (1, 2, 5 ms …) on this thread, holding whatever
 * locks it already has. Then the busy timeout is set back to `restoreMs`. Run as SQL every
 * time, not through a prepared statement: SQLite applies this pragma when its statement is
 * compiled. exec() compiles and runs it without a Statement object (a pair: 1.2 µs, not 5.3).
 */
export function withoutBusyWait<T>(db: SqliteDatabase, restoreMs: number, run: () => T): T {
  db.exec('PRAGMA busy_timeout = 0');
  try {
    return run();
  } finally {
    db.exec(`PRAGMA busy_timeout = ${restoreMs}`);
  }
}

/** Applies, in id order, every migration not yet recorded; returns the ids applied now. */
export function applyMigrations(db: SqliteDatabase): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare<[], { id: string }>('SELECT id FROM schema_migrations').all().map((r) => r.id));
  const known = new Set(migrations.map((m) => m.id));
  const unknown = [...applied].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new Error(`the database has migrations this Tessera does not know (${unknown.join(', ')}): it was written by a newer release`);
  }
  const record = db.prepare<[string, number]>('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  const appliedNow: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.id, Date.now());
    }).immediate();
    appliedNow.push(migration.id);
  }
  return appliedNow;
}
