import { X509Certificate, type KeyObject } from 'node:crypto';

/**
 * Certificates parsed once. Parsing a PEM into an X509Certificate and its
 * public KeyObject costs tens of microseconds; a sign-on would otherwise pay
 * it for every registered credential or SP key it looks at. The cache is keyed
 * by the certificate's own text, so a changed registration is a new key and
 * nothing here can go stale; it is bounded so hostile or rotating input cannot
 * grow it without limit.
 */

export interface ParsedCertificate {
  readonly certificate: X509Certificate;
  readonly publicKey: KeyObject;
  readonly validFromMs: number;
  readonly validToMs: number;
}

/** How many parsed certificates are kept (exported for the eviction test). */
export const MAX_ENTRIES = 4_096;
const cache = new Map<string, ParsedCertificate>();

function parse(source: string | Buffer): ParsedCertificate {
  const certificate = new X509Certificate(source);
  return {
    certificate,
    publicKey: certificate.publicKey,
    validFromMs: Date.parse(certificate.validFrom),
    validToMs: Date.parse(certificate.validTo),
  };
}

/** The parsed form of a PEM (or DER, as base64 of its bytes) certificate; throws like X509Certificate on bad input. */
export function parsedCertificate(pem: string): ParsedCertificate {
  const hit = cache.get(pem);
  if (hit) {
    // Most recently used last: the oldest entry is the first one evicted.
    cache.delete(pem);
    cache.set(pem, hit);
    return hit;
  }
  const parsed = parse(pem);
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(pem, parsed);
  return parsed;
}

/** Parses DER bytes without caching (for certificates that arrive once per connection). */
export function parsedDerCertificate(der: Buffer): ParsedCertificate {
  return parse(der);
}
