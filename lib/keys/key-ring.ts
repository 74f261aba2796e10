import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { KeyRepository, KeyTransition, StoredKey } from './key-repository.js';
import { certificateBody } from './certificates.js';
import { unseal } from './sealing.js';

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
  /** The key to sign with now. Read it at each use: it changes when a rollover activates the next key. */
  readonly signing: SigningKey;
  /** Every certificate SPs should trust now: the current one first, then a published next key, then retired ones still published. */
  readonly publishedSigningCertificates: readonly string[];
  readonly tls: { readonly keyPem: string; readonly certificatePem: string };
  /** Changes whenever `signing` or `publishedSigningCertificates` changes (e.g. to rebuild cached metadata). */
  readonly version: number;
  /**
   * Applies a rollover step that has come due and re-reads the key table, so
   * keys published by another process (`tessera keys rotate`) are picked up.
   * Only keys not seen before are unsealed and parsed.
   */
  refresh(): Promise<void>;
}

interface Snapshot {
  readonly signing: SigningKey;
  readonly published: readonly string[];
  readonly fingerprint: string;
}

/**
 * The signing keys as the table says at the last refresh. Requests read the
 * parsed snapshot; a refresh swaps it whole, so a request never sees half a
 * rollover.
 */
export class KeyRing implements IdpKeys {
  private snapshot: Snapshot | undefined;
  private versionCounter = 0;
  private readonly parsed = new Map<string, SigningKey>();
  private refreshing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      keys: KeyRepository;
      kek: Buffer;
      clock: Clock;
      retireAfterSeconds: number;
      tls: { keyPem: string; certificatePem: string };
      /** Told of each rollover step this process applied (for the audit trail). */
      onTransition?: (transition: KeyTransition) => Promise<void>;
    },
  ) {}

  get signing(): SigningKey {
    return this.current().signing;
  }

  get publishedSigningCertificates(): readonly string[] {
    return this.current().published;
  }

  get tls() {
    return this.deps.tls;
  }

  get version(): number {
    return this.versionCounter;
  }

  /** Calls during a reload share one more reload after it, so none misses a change made before it was called. */
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.refreshing) {
      this.queued = this.refreshing
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.refresh();
        });
      return this.queued;
    }
    this.refreshing = this.reload().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private current(): Snapshot {
    if (!this.snapshot) throw new Error('KeyRing used before its first refresh');
    return this.snapshot;
  }

  private async reload(): Promise<void> {
    const now = this.deps.clock.now();
    const transition = await this.deps.keys.advance('saml-signing', now, this.deps.retireAfterSeconds);
    const stored = await this.deps.keys.list('saml-signing');
    const current = stored.find((k) => k.state === 'current');
    if (!current) throw new Error('no current SAML signing key in the key table');
    const published = [
      current,
      ...stored.filter((k) => k.state === 'next'),
      ...stored.filter((k) => k.state === 'retired' && k.publishedUntil !== undefined && k.publishedUntil > now),
    ];
    const fingerprint = published.map((k) => `${k.id}:${k.state}`).join(',');
    if (fingerprint !== this.snapshot?.fingerprint) {
      this.snapshot = { signing: this.parse(current), published: published.map((k) => k.certificatePem), fingerprint };
      this.versionCounter += 1;
    }
    if (transition && this.deps.onTransition) await this.deps.onTransition(transition);
  }

  private parse(key: StoredKey): SigningKey {
    const known = this.parsed.get(key.id);
    if (known) return known;
    const privateKeyPem = unseal(this.deps.kek, key.sealedPrivateKey, key.id).toString('utf8');
    const signing: SigningKey = {
      id: key.id,
      privateKey: createPrivateKey(privateKeyPem),
      privateKeyPem,
      certificatePem: key.certificatePem,
      certificateBase64: certificateBody(key.certificatePem),
    };
    this.parsed.set(key.id, signing);
    return signing;
  }
}
