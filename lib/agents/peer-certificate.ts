import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { parsedDerCertificate } from '../common/parsed-certificates.js';

/**
 * The TLS client certificate of a connection, read once per connection.
 *
 * A keep-alive connection carries many sign-ons; getPeerCertificate() builds a
 * large object and X509Certificate re-parses the DER on every call, which cost
 * more than the RSA signature of the Response. The certificate cannot change
 * under a connection: the server disables renegotiation on every TLS socket
 * (idp.ts) and TLS 1.3 has none. Only the parse is remembered; whether the
 * thumbprint still belongs to an active agent is looked up on every request.
 */

export interface PeerCertificate {
  readonly thumbprint: string;
  readonly validFromMs: number;
  readonly validToMs: number;
}

const byConnection = new WeakMap<object, PeerCertificate | null>();

export function peerCertificateOf(socket: Partial<TLSSocket>): PeerCertificate | undefined {
  const known = byConnection.get(socket);
  if (known !== undefined) return known ?? undefined;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  let certificate: PeerCertificate | null = null;
  if (peer?.raw && peer.raw.length > 0) {
    const parsed = parsedDerCertificate(peer.raw);
    certificate = {
      thumbprint: createHash('sha256').update(peer.raw).digest('hex'),
      validFromMs: parsed.validFromMs,
      validToMs: parsed.validToMs,
    };
  }
  // HTTP requests arrive only after the handshake, so what a TLS socket shows now is final.
  if (socket.encrypted === true) byConnection.set(socket, certificate);
  return certificate ?? undefined;
}
