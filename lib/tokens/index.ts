import { createHash, randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import passport from 'passport';
import { AsyncStrategy, isRefusal } from '../common/async-strategy.js';
import { TesseraError } from '../common/errors.js';
import type { OrchestratorToken, TokenRepository } from './token-repository.js';

export type { OrchestratorToken, TokenRepository } from './token-repository.js';

const TOKEN_PREFIX = 'tsr_';

/** 256 random bits; the prefix makes leaked tokens easy to find with secret scanners. */
export function generateOrchestratorToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Tokens carry 256 bits of entropy, so a fast hash is enough; lookups go by hash,
 * so no comparison ever runs over the secret itself.
 */
export function hashOrchestratorToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

class OrchestratorBearerStrategy extends AsyncStrategy<OrchestratorToken> {
  override readonly name = 'orchestrator-bearer';

  constructor(private readonly tokens: TokenRepository) {
    super();
  }

  protected async verify(req: Request): Promise<OrchestratorToken | undefined> {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/.exec(header);
    if (!match) {
      throw new TesseraError('orchestrator_unauthenticated', 'an "Authorization: Bearer <token>" header is required');
    }
    const token = await this.tokens.findActiveByHash(hashOrchestratorToken(match[1]!));
    if (!token) throw new TesseraError('orchestrator_unauthenticated', 'the bearer token is not valid');
    return token;
  }
}

/** Express middleware guarding the orchestrator APIs (SCIM, Tasks); sets res.locals.orchestrator. */
export function orchestratorAuthentication(tokens: TokenRepository) {
  const authenticator = new passport.Passport();
  authenticator.use(new OrchestratorBearerStrategy(tokens));
  return (req: Request, res: Response, next: NextFunction): void => {
    const done = (error: unknown, principal: OrchestratorToken | false, challenge: unknown): void => {
      if (error) return next(error);
      if (!principal) {
        return next(isRefusal(challenge) ? challenge.refusal : new TesseraError('orchestrator_unauthenticated', 'authentication required'));
      }
      res.locals.orchestrator = principal;
      next();
    };
    const middleware = authenticator.authenticate('orchestrator-bearer', { session: false }, done) as (
      req: Request,
      res: Response,
      next: NextFunction,
    ) => void;
    middleware(req, res, next);
  };
}
