import type { SqliteDatabase } from './database.js';
import type { KeyPurpose, KeyRepository, KeyState, KeyTransition, StoredKey } from '../keys/key-repository.js';
import { fromMillis, optionalFromMillis, toMillis } from './rows.js';

interface KeyRow {
  id: string;
  purpose: string;
  algorithm: string;
  sealed_private_key: string;
  certificate_pem: string;
  state: string;
  created_at: number;
  activates_at: number | null;
  activated_at: number | null;
  retired_at: number | null;
  published_until: number | null;
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
    activatesAt: optionalFromMillis(row.activates_at),
    activatedAt: optionalFromMillis(row.activated_at),
    retiredAt: optionalFromMillis(row.retired_at),
    publishedUntil: optionalFromMillis(row.published_until),
  };
}

const millisOrNull = (at: Date | undefined): number | null => (at ? toMillis(at) : null);

export class SqliteKeyRepository implements KeyRepository {
  private readonly byPurpose;
  private readonly insert_;
  private readonly byPurposeAndState;
  private readonly dueNext;
  private readonly retireCurrent;
  private readonly activate;

  constructor(private readonly db: SqliteDatabase) {
    this.byPurpose = db.prepare<[string], KeyRow>('SELECT * FROM signing_keys WHERE purpose = ? ORDER BY created_at');
    this.byPurposeAndState = db.prepare<[string, string], KeyRow>(
      'SELECT * FROM signing_keys WHERE purpose = ? AND state = ? ORDER BY created_at LIMIT 1',
    );
    this.insert_ = db.prepare(
      `INSERT INTO signing_keys (id, purpose, algorithm, sealed_private_key, certificate_pem, state, created_at,
                                 activates_at, activated_at, retired_at, published_until)
       VALUES (@id, @purpose, @algorithm, @sealedPrivateKey, @certificatePem, @state, @createdAt,
               @activatesAt, @activatedAt, @retiredAt, @publishedUntil)`,
    );
    this.dueNext = db.prepare<[string, number], KeyRow>(
      `SELECT * FROM signing_keys WHERE purpose = ? AND state = 'next' AND activates_at <= ? LIMIT 1`,
    );
    this.retireCurrent = db.prepare<[number, number, string], KeyRow>(
      `UPDATE signing_keys SET state = 'retired', retired_at = ?, published_until = ?
        WHERE purpose = ? AND state = 'current' RETURNING *`,
    );
    this.activate = db.prepare<[number, string], KeyRow>(
      `UPDATE signing_keys SET state = 'current', activated_at = ? WHERE id = ? AND state = 'next' RETURNING *`,
    );
  }

  private params(key: StoredKey) {
    return {
      id: key.id,
      purpose: key.purpose,
      algorithm: key.algorithm,
      sealedPrivateKey: key.sealedPrivateKey,
      certificatePem: key.certificatePem,
      state: key.state,
      createdAt: toMillis(key.createdAt),
      activatesAt: millisOrNull(key.activatesAt),
      activatedAt: millisOrNull(key.activatedAt),
      retiredAt: millisOrNull(key.retiredAt),
      publishedUntil: millisOrNull(key.publishedUntil),
    };
  }

  async list(purpose: KeyPurpose): Promise<StoredKey[]> {
    return this.byPurpose.all(purpose).map(keyFromRow);
  }

  async insert(key: StoredKey): Promise<void> {
    this.insert_.run(this.params(key));
  }

  async insertIfAbsent(key: StoredKey): Promise<StoredKey> {
    return this.db.transaction((): StoredKey => {
      const existing = this.byPurposeAndState.get(key.purpose, key.state);
      if (existing) return keyFromRow(existing);
      this.insert_.run(this.params(key));
      return key;
    }).immediate();
  }

  async advance(purpose: KeyPurpose, now: Date, retireAfterSeconds: number): Promise<KeyTransition | undefined> {
    // A plain read first: the write lock is taken only when a step is actually due.
    if (!this.dueNext.get(purpose, toMillis(now))) return undefined;
    return this.db.transaction((): KeyTransition | undefined => {
      const next = this.dueNext.get(purpose, toMillis(now));
      if (!next) return undefined;
      const retired = this.retireCurrent.get(toMillis(now), toMillis(now) + retireAfterSeconds * 1000, purpose);
      const activated = this.activate.get(toMillis(now), next.id)!;
      return { activated: keyFromRow(activated), retired: retired ? keyFromRow(retired) : undefined };
    }).immediate();
  }
}
