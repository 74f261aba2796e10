import { Strategy } from 'passport-strategy';
import type { IncomingMessage } from 'node:http';
import { TesseraError } from './errors.js';

/**
 * A passport strategy whose check is one async function: it resolves with the
 * authenticated principal, resolves undefined when its kind of credential is
 * absent (so the next strategy may try), or throws a TesseraError to refuse.
 */
export abstract class AsyncStrategy<Principal> extends Strategy {
  abstract readonly name: string;

  protected abstract verify(req: IncomingMessage): Promise<Principal | undefined>;

  override authenticate(req: IncomingMessage): void {
    this.verify(req).then(
      (principal) => {
        if (principal === undefined) this.fail({ absent: true }, 401);
        else this.success(principal);
      },
      (thrown: unknown) => {
        if (thrown instanceof TesseraError) this.fail({ refusal: thrown }, 401);
        else this.error(thrown instanceof Error ? thrown : new Error(String(thrown)));
      },
    );
  }
}

/** What AsyncStrategy hands passport as a failure challenge. */
export type StrategyChallenge = { absent: true } | { refusal: TesseraError };

export function isRefusal(challenge: unknown): challenge is { refusal: TesseraError } {
  return typeof challenge === 'object' && challenge !== null && 'refusal' in challenge && challenge.refusal instanceof TesseraError;
}
