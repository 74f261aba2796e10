import type { SqliteDatabase } from './database.js';
import type { KeyPurpose, KeyRepository, KeyState, StoredKey } from '../keys/key-repository.js';
import { fromMillis, toMillis } from './rows.js';

interface KeyRow {
  id: string;
  purpose: string;
  algorithm: string;
  sealed_private_key: string;
  certificate_pem: string;
  state: string;
  created_at: number;
}

function keyFromRow(row: KeyRow): StoredKey {
  return {
    id: row.id,
    purpose: row.purpose as KeyPurpose,
    algorithm: row.algorithm as StoredKey['algorithm'],
    sealedPrivateKey: row.sealed_private_key,
    certificatePem: row.certificate_pem,
    state: row.state as KeyState,
    createdAt: fromMillis(row.created_at),
  };
}

export class SqliteKeyRepository implements KeyRepository {
  private readonly byPurpose;
  private readonly insert_;
  private readonly byPurposeAndState;

  constructor(private readonly db: SqliteDatabase) {
    this.byPurpose = db.prepare<[string], KeyRow>('SELECT * FROM signing_keys WHERE purpose = ? ORDER BY created_at');
    this.byPurposeAndState = db.prepare<[string, string], KeyRow>(
      'SELECT * FROM signing_keys WHERE purpose = ? AND state = ? ORDER BY created_at LIMIT 1',
    );
    this.insert_ = db.prepare(
      `INSERT INTO signing_keys (id, purpose, algorithm, sealed_private_key, certificate_pem, state, created_at)
       VALUES (@id, @purpose, @algorithm, @sealedPrivateKey, @certificatePem, @state, @createdAt)`,
    );
  }

  async list(purpose: KeyPurpose): Promise<StoredKey[]> {
    return this.byPurpose.all(purpose).map(keyFromRow);
  }

  async insert(key: StoredKey): Promise<void> {
    this.insert_.run({ ...key, createdAt: toMillis(key.createdAt) });
  }

  async insertIfAbsent(key: StoredKey): Promise<StoredKey> {
    return this.db.transaction((): StoredKey => {
      const existing = this.byPurposeAndState.get(key.purpose, key.state);
      if (existing) return keyFromRow(existing);
      this.insert_.run({ ...key, createdAt: toMillis(key.createdAt) });
      return key;
    }).immediate();
  }
}
