export type KeyPurpose = 'saml-signing' | 'tls';
/**
 * current: the key the IdP signs with (one per purpose). next: published in
 * metadata, signs from `activatesAt`. retired: no longer signs; still published
 * until `publishedUntil`, so SPs holding its assertions can verify them.
 */
export type KeyState = 'current' | 'next' | 'retired';

/** A key pair as stored: the private key only ever sealed (AES-256-GCM under the key-encryption key). */
export interface StoredKey {
  readonly id: string;
  readonly purpose: KeyPurpose;
  readonly algorithm: 'RSA-2048';
  readonly sealedPrivateKey: string;
  readonly certificatePem: string;
  readonly state: KeyState;
  readonly createdAt: Date;
  readonly activatesAt?: Date | undefined;
  readonly activatedAt?: Date | undefined;
  readonly retiredAt?: Date | undefined;
  readonly publishedUntil?: Date | undefined;
}

/** What one rollover step changed. */
export interface KeyTransition {
  readonly activated: StoredKey;
  /** The key that signed until now, if there was one. */
  readonly retired: StoredKey | undefined;
}

export interface KeyRepository {
  list(purpose: KeyPurpose): Promise<StoredKey[]>;
  insert(key: StoredKey): Promise<void>;
  /** Inserts the key only if no key of its purpose and state exists; returns the key that is stored. */
  insertIfAbsent(key: StoredKey): Promise<StoredKey>;
  /**
   * If a next key's activation time has come, makes it current and retires the
   * current one (published until now + retireAfterSeconds), in one transaction.
   */
  advance(purpose: KeyPurpose, now: Date, retireAfterSeconds: number): Promise<KeyTransition | undefined>;
}
