import type { SqliteDatabase } from './database.js';
import type { ReplayCache } from '../common/replay-cache.js';
import { toMillis } from './rows.js';

export class SqliteReplayCache implements ReplayCache {
  private readonly insert;
  private readonly purge;

  constructor(db: SqliteDatabase) {
    // An expired entry with the same id is replaced: the id could no longer be accepted anyway.
    this.insert = db.prepare<[string, string, number, number]>(
      `INSERT INTO replay_cache (namespace, id, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (namespace, id) DO UPDATE SET expires_at = excluded.expires_at
       WHERE replay_cache.expires_at <= ?`,
    );
    this.purge = db.prepare<[number, number]>(
      'DELETE FROM replay_cache WHERE (namespace, id) IN (SELECT namespace, id FROM replay_cache WHERE expires_at <= ? LIMIT ?)',
    );
  }

  async checkAndStore(namespace: string, id: string, expiresAt: Date, now: Date): Promise<boolean> {
    return this.insert.run(namespace, id, toMillis(expiresAt), toMillis(now)).changes === 1;
  }

  async purgeExpired(now: Date, limit: number): Promise<number> {
    return this.purge.run(toMillis(now), limit).changes;
  }
}
