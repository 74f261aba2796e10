import type { SqliteDatabase } from './database.js';
import type { OrchestratorToken, TokenRepository } from '../tokens/token-repository.js';
import { TesseraError } from '../common/errors.js';
import { fromMillis, toMillis } from './rows.js';

export class SqliteTokenRepository implements TokenRepository {
  private readonly insert;
  private readonly activeByName;
  private readonly revoke_;
  private readonly activeByHash;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare<[string, string, number]>(
      'INSERT INTO orchestrator_tokens (name, token_hash, created_at) VALUES (?, ?, ?)',
    );
    this.activeByName = db.prepare<[string], { name: string }>(
      'SELECT name FROM orchestrator_tokens WHERE name = ? AND revoked_at IS NULL',
    );
    this.revoke_ = db.prepare<[number, string]>(
      'UPDATE orchestrator_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL',
    );
    this.activeByHash = db.prepare<[string], { name: string; created_at: number }>(
      'SELECT name, created_at FROM orchestrator_tokens WHERE token_hash = ? AND revoked_at IS NULL',
    );
  }

  async create(name: string, tokenHash: string, at: Date): Promise<void> {
    this.db.transaction(() => {
      if (this.activeByName.get(name)) {
        throw new TesseraError('conflict', `a token named "${name}" already exists; revoke it first`);
      }
      this.insert.run(name, tokenHash, toMillis(at));
    }).immediate();
  }

  async revoke(name: string, at: Date): Promise<boolean> {
    return this.revoke_.run(toMillis(at), name).changes > 0;
  }

  async findActiveByHash(tokenHash: string): Promise<OrchestratorToken | undefined> {
    const row = this.activeByHash.get(tokenHash);
    return row ? { name: row.name, createdAt: fromMillis(row.created_at) } : undefined;
  }
}
