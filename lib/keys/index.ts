import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { KeyPurpose, KeyRepository, StoredKey } from './key-repository.js';
import { certificateBody, generateSelfSigned } from './certificates.js';
import { seal, unseal } from './sealing.js';

export type { KeyRepository, StoredKey, KeyPurpose } from './key-repository.js';
export { loadKeyEncryptionKey, KEK_FILE } from './key-encryption-key.js';
export { certificateBody, certificateThumbprint, parseCertificate, generateSelfSigned } from './certificates.js';

/** The key the IdP signs with, parsed once: never re-parsed per request. */
export interface SigningKey {
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  /** Base64 DER, for KeyInfo and metadata. */
  readonly certificateBase64: string;
}

export interface IdpKeys {
  readonly signing: SigningKey;
  /** Every certificate SPs should trust now: the current one first, then any published next key. */
  readonly publishedSigningCertificates: readonly string[];
  readonly tls: { readonly keyPem: string; readonly certificatePem: string };
}

const LIFETIME_DAYS: Record<KeyPurpose, number> = { 'saml-signing': 5 * 365, tls: 365 };

/**
 * Loads the IdP's keys, creating on first start a SAML signing key and a TLS
 * key, each RSA-2048 with a self-signed certificate, sealed before they are stored.
 */
export async function loadOrCreateIdpKeys(options: {
  keys: KeyRepository;
  kek: Buffer;
  clock: Clock;
  tlsNames: readonly string[];
}): Promise<IdpKeys> {
  const ensureCurrent = async (purpose: KeyPurpose): Promise<StoredKey> => {
    const existing = (await options.keys.list(purpose)).find((k) => k.state === 'current');
    if (existing) return existing;
    const now = options.clock.now();
    const generated = await generateSelfSigned({
      commonName: purpose === 'tls' ? (options.tlsNames[0] ?? 'localhost') : 'Tessera SAML signing',
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
    });
  };

  const signingRecord = await ensureCurrent('saml-signing');
  const tlsRecord = await ensureCurrent('tls');
  const signingPem = unseal(options.kek, signingRecord.sealedPrivateKey, signingRecord.id).toString('utf8');
  const published = (await options.keys.list('saml-signing'))
    .filter((k) => k.state === 'next')
    .map((k) => k.certificatePem);

  return {
    signing: {
      id: signingRecord.id,
      privateKey: createPrivateKey(signingPem),
      privateKeyPem: signingPem,
      certificatePem: signingRecord.certificatePem,
      certificateBase64: certificateBody(signingRecord.certificatePem),
    },
    publishedSigningCertificates: [signingRecord.certificatePem, ...published],
    tls: {
      keyPem: unseal(options.kek, tlsRecord.sealedPrivateKey, tlsRecord.id).toString('utf8'),
      certificatePem: tlsRecord.certificatePem,
    },
  };
}
