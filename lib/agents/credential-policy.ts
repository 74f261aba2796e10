import { TesseraError } from '../common/errors.js';
import type { CredentialRepository } from './credential-repository.js';

/** What the sign-on strategies need to judge a registered certificate beyond pinning. */
export interface CredentialPolicy {
  readonly repository: CredentialRepository;
  /** A certificate registered longer ago than this is refused (the seed's standard: 72 h). */
  readonly maxAgeSeconds: number;
}

/** Refuses a certificate registered too long ago; the message says when, and what to do. */
export function assertCredentialFresh(certificate: { readonly registeredAt: Date }, now: Date, maxAgeSeconds: number): void {
  const ageSeconds = (now.getTime() - certificate.registeredAt.getTime()) / 1000;
  if (ageSeconds > maxAgeSeconds) {
    throw new TesseraError(
      'agent_credential_expired',
      `the agent certificate was registered ${formatHours(ageSeconds)} ago (${certificate.registeredAt.toISOString()}), ` +
        `more than the ${formatHours(maxAgeSeconds)} a credential may be used: register a new certificate`,
    );
  }
}

/** The refusal for a certificate the cleanup policy (or an admin) retired. */
export function retiredCredentialError(retiredAt: Date, reason: string | undefined): TesseraError {
  return new TesseraError(
    'agent_credential_retired',
    `the agent certificate was retired at ${retiredAt.toISOString()}${reason ? ` (${reason})` : ''}: register a new certificate`,
  );
}

function formatHours(seconds: number): string {
  const hours = seconds / 3600;
  return Number.isInteger(hours) ? `${hours} h` : `${hours.toFixed(1)} h`;
}
