import { randomUUID } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { KeyPurpose, KeyRepository, KeyTransition, StoredKey } from './key-repository.js';
import { generateSelfSigned } from './certificates.js';
import { KeyRing } from './key-ring.js';
import { SIGNING_KEY_COMMON_NAME, SIGNING_KEY_LIFETIME_DAYS } from './rotation.js';
import { seal, unseal } from './sealing.js';

export type { KeyRepository, StoredKey, KeyPurpose, KeyState, KeyTransition } from './key-repository.js';
export type { IdpKeys, SigningKey } from './key-ring.js';
export { KeyRing } from './key-ring.js';
export { loadKeyEncryptionKey, readKeyEncryptionKey, KEK_FILE } from './key-encryption-key.js';
export { certificateBody, certificateThumbprint, parseCertificate, generateSelfSigned } from './certificates.js';
export { publishNextSigningKey, rotateIfDue, type PublishedNextKey } from './rotation.js';
export { signingKeysProvenByKek } from './trust.js';

const LIFETIME_DAYS: Record<KeyPurpose, number> = { 'saml-signing': SIGNING_KEY_LIFETIME_DAYS, tls: 365 };

/**
 * Loads the IdP's keys, creating on first start a SAML signing key and a TLS
 * key, each RSA-2048 with a self-signed certificate, sealed before they are stored.
 * The signing keys come back as a KeyRing that follows rollovers.
 */
export async function loadOrCreateIdpKeys(options: {
  keys: KeyRepository;
  kek: Buffer;
  clock: Clock;
  tlsNames: readonly string[];
  /** How long a replaced signing key stays in metadata. */
  retireAfterSeconds?: number;
  onTransition?: (transition: KeyTransition) => Promise<void>;
}): Promise<KeyRing> {
  const ensureCurrent = async (purpose: KeyPurpose): Promise<StoredKey> => {
    const existing = (await options.keys.list(purpose)).find((k) => k.state === 'current');
    if (existing) return existing;
    const now = options.clock.now();
    const generated = await generateSelfSigned({
      commonName: purpose === 'tls' ? (options.tlsNames[0] ?? 'localhost') : SIGNING_KEY_COMMON_NAME,
      validDays: LIFETIME_DAYS[purpose],
      subjectAltNames: purpose === 'tls' ? options.tlsNames : [],
      now,
    });
    const id = randomUUID();
    // Another process may have created the key meanwhile: the store keeps the first.
    return options.keys.insertIfAbsent({
      id,
      purpose,
      algorithm: 'RSA-2048',
      sealedPrivateKey: seal(options.kek, Buffer.from(generated.privateKeyPem, 'utf8'), id),
      certificatePem: generated.certificatePem,
      state: 'current',
      createdAt: now,
      activatedAt: now,
    });
  };

  await ensureCurrent('saml-signing');
  const tlsRecord = await ensureCurrent('tls');
  const ring = new KeyRing({
    keys: options.keys,
    kek: options.kek,
    clock: options.clock,
    retireAfterSeconds: options.retireAfterSeconds ?? 86_400,
    tls: {
      keyPem: unseal(options.kek, tlsRecord.sealedPrivateKey, tlsRecord.id).toString('utf8'),
      certificatePem: tlsRecord.certificatePem,
    },
    ...(options.onTransition ? { onTransition: options.onTransition } : {}),
  });
  await ring.refresh();
  return ring;
}
