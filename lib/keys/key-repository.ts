export type KeyPurpose = 'saml-signing' | 'tls';
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
}

export interface KeyRepository {
  list(purpose: KeyPurpose): Promise<StoredKey[]>;
  insert(key: StoredKey): Promise<void>;
  /** Inserts the key only if no key of its purpose and state exists; returns the key that is stored. */
  insertIfAbsent(key: StoredKey): Promise<StoredKey>;
}
