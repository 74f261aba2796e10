import type { SqliteDatabase } from './database.js';

/*
 * Directory reads kept in memory while the directory is unchanged.
 *
 * Every sign-on looks up its SP and its agent (with certificates and groups):
 * four queries and some JSON parsing, tens of microseconds, for data that
 * changes only when an orchestrator or an operator changes it. Triggers bump
 * directory_version with every such change (migration 0007), in whatever
 * process or connection makes it; a lookup here first reads that version and
 * throws everything away if it moved.
 *
 * The version is read before the data: a change that commits between the two
 * reads leaves the entry filed under the older version, which the next lookup
 * no longer matches. So an entry is never newer than it claims. Misses are not
 * cached.
 *
 * The version is read once per turn of the event loop, not once per lookup:
 * reading it is a read transaction of its own (file locks, several system
 * calls), and a busy server handles many sign-ons per turn. A change committed
 * during a turn is therefore seen from the next turn on. Requests handled in
 * the same turn as the change were already in flight when it committed, so
 * answering them as if they came first is a valid order; a client that waits
 * for the change's answer before it signs on is read in a later turn. The
 * session write re-checks, atomically, that the agent is active and the task
 * open whatever this cache says.
 */

/** More entries than this and the cache starts over: bounded whatever the fleet size. */
const MAX_ENTRIES_PER_KIND = 20_000;

export class DirectoryCache {
  private readonly versionQuery;
  private seenVersion: number | undefined;
  private versionReadThisTurn = false;
  private readonly endTurn = (): void => {
    this.versionReadThisTurn = false;
  };
  private readonly kinds = new Map<string, Map<string, unknown>>();

  constructor(db: SqliteDatabase) {
    this.versionQuery = db.prepare<[], number>('SELECT version FROM directory_version WHERE id = 1').pluck();
  }

  /** What `load` returns for `key` of `kind`, from memory if the directory has not changed since it was loaded. */
  lookup<T>(kind: string, key: string, load: () => T | undefined): T | undefined {
    if (!this.versionReadThisTurn) {
      const version = this.versionQuery.get();
      if (version !== this.seenVersion) {
        this.kinds.clear();
        this.seenVersion = version;
      }
      this.versionReadThisTurn = true;
      setImmediate(this.endTurn);
    }
    let entries = this.kinds.get(kind) as Map<string, T> | undefined;
    const hit = entries?.get(key);
    if (hit !== undefined) return hit;
    const loaded = load();
    if (loaded === undefined) return undefined;
    if (!entries || entries.size >= MAX_ENTRIES_PER_KIND) {
      entries = new Map<string, T>();
      this.kinds.set(kind, entries);
    }
    entries.set(key, loaded);
    return loaded;
  }
}
