import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { StoredKey } from './key-repository.js';
import { unseal } from './sealing.js';

/**
 * The public keys of the stored signing keys whose sealed private key opens
 * under this key-encryption key and matches the certificate. Someone who can
 * write the database but does not hold the KEK cannot add a key to this set,
 * so signatures checked against it (audit checkpoints) are the IdP's own.
 */
export function signingKeysProvenByKek(stored: readonly StoredKey[], kek: Buffer): Map<string, KeyObject> {
  const trusted = new Map<string, KeyObject>();
  for (const key of stored) {
    try {
      const privateKey = createPrivateKey(unseal(kek, key.sealedPrivateKey, key.id).toString('utf8'));
      const fromPrivate = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
      const certificateKey = new X509Certificate(key.certificatePem).publicKey;
      if (fromPrivate.equals(certificateKey.export({ type: 'spki', format: 'der' }))) trusted.set(key.id, certificateKey);
    } catch {
      // A row that does not open under our KEK is not one of our keys.
    }
  }
  return trusted;
}
