import { TesseraError } from '../common/errors.js';

/** Pinning does not make an expired certificate acceptable. */
export function assertCertificateCurrent(validity: { readonly validFromMs: number; readonly validToMs: number }, now: Date): void {
  if (now.getTime() < validity.validFromMs) {
    throw new TesseraError('agent_unauthenticated', 'the agent certificate is not yet valid');
  }
  if (now.getTime() > validity.validToMs) {
    throw new TesseraError('agent_unauthenticated', 'the agent certificate has expired');
  }
}
