import { randomUUID } from 'node:crypto';
import type { KeyRepository, StoredKey } from './key-repository.js';
import { generateSelfSigned } from './certificates.js';
import { seal } from './sealing.js';

export const SIGNING_KEY_COMMON_NAME = 'Tessera SAML signing';
export const SIGNING_KEY_LIFETIME_DAYS = 5 * 365;

export interface PublishedNextKey {
  readonly key: StoredKey;
  /** false when a next key was already published (by this or another process); `key` is that one. */
  readonly created: boolean;
}

/**
 * Creates the next SAML signing key and publishes it beside the current one;
 * it becomes the signing key `overlapSeconds` later. There is at most one next
 * key: if one exists it is returned unchanged.
 */
export async function publishNextSigningKey(options: {
  keys: KeyRepository;
  kek: Buffer;
  now: Date;
  overlapSeconds: number;
}): Promise<PublishedNextKey> {
  const current = (await options.keys.list('saml-signing')).find((k) => k.state === 'current');
  if (!current) throw new Error('there is no current signing key yet: start the IdP once before rotating');
  const generated = await generateSelfSigned({
    commonName: SIGNING_KEY_COMMON_NAME,
    validDays: SIGNING_KEY_LIFETIME_DAYS,
    now: options.now,
  });
  const id = randomUUID();
  const stored = await options.keys.insertIfAbsent({
    id,
    purpose: 'saml-signing',
    algorithm: 'RSA-2048',
    sealedPrivateKey: seal(options.kek, Buffer.from(generated.privateKeyPem, 'utf8'), id),
    certificatePem: generated.certificatePem,
    state: 'next',
    createdAt: options.now,
    activatesAt: new Date(options.now.getTime() + options.overlapSeconds * 1000),
  });
  return { key: stored, created: stored.id === id };
}

/**
 * Scheduled rotation: once the current key has signed for
 * `intervalSeconds - overlapSeconds`, its successor is published, so it takes
 * over about `intervalSeconds` after the current key did.
 */
export async function rotateIfDue(options: {
  keys: KeyRepository;
  kek: Buffer;
  now: Date;
  overlapSeconds: number;
  intervalSeconds: number;
}): Promise<PublishedNextKey | undefined> {
  if (options.intervalSeconds <= 0) return undefined;
  const stored = await options.keys.list('saml-signing');
  if (stored.some((k) => k.state === 'next')) return undefined;
  const current = stored.find((k) => k.state === 'current');
  if (!current) return undefined;
  const since = (current.activatedAt ?? current.createdAt).getTime();
  const dueAt = since + (options.intervalSeconds - options.overlapSeconds) * 1000;
  if (options.now.getTime() < dueAt) return undefined;
  const published = await publishNextSigningKey(options);
  return published.created ? published : undefined;
}
