import type { X509Certificate } from 'node:crypto';
import { TesseraError } from '../common/errors.js';

/** Pinning does not make an expired certificate acceptable. */
export function assertCertificateCurrent(certificate: X509Certificate, now: Date): void {
  if (now.getTime() < Date.parse(certificate.validFrom)) {
    throw new TesseraError('agent_unauthenticated', 'the agent certificate is not yet valid');
  }
  if (now.getTime() > Date.parse(certificate.validTo)) {
    throw new TesseraError('agent_unauthenticated', 'the agent certificate has expired');
  }
}
