import passport from 'passport';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRefusal } from '../common/async-strategy.js';
import { TesseraError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { ReplayCache } from '../common/replay-cache.js';
import type { AgentRepository } from './agent-repository.js';
import type { AuthenticatedAgent } from './authenticated-agent.js';
import { ClientCertificateStrategy } from './client-certificate-strategy.js';
import { AgentJwtStrategy, type AgentJwtSettings } from './jwt-strategy.js';
import type { CredentialPolicy } from './credential-policy.js';

export type { Agent, AgentCertificate, AgentProfile, NewAgent } from './agent.js';
export type { AgentRepository, AgentEndResult } from './agent-repository.js';
export type { AuthenticatedAgent } from './authenticated-agent.js';
export { AGENT_JWT_ALGORITHMS } from './jwt-strategy.js';
export type { CredentialPolicy } from './credential-policy.js';
export type { CredentialRecord, CredentialRepository } from './credential-repository.js';

export type AgentAuthenticator = (req: IncomingMessage, res: ServerResponse) => Promise<AuthenticatedAgent>;

/** Strategies in the order they are tried: an explicit bearer JWT first, then the TLS client certificate. */
const STRATEGIES = ['agent-jwt', 'agent-client-certificate'];

/**
 * Authenticates the agent behind a sign-on request with passport strategies
 * (its own Authenticator, so deployments can add strategies without globals).
 */
export function createAgentAuthenticator(deps: {
  agents: AgentRepository;
  replay: ReplayCache;
  clock: Clock;
  jwt: AgentJwtSettings;
  /** Credential age and retirement, checked by every strategy. */
  credentials: CredentialPolicy;
}): AgentAuthenticator {
  const authenticator = new passport.Passport();
  authenticator.use(new AgentJwtStrategy({ ...deps, settings: deps.jwt }));
  authenticator.use(new ClientCertificateStrategy(deps));

  return (req, res) =>
    new Promise<AuthenticatedAgent>((resolve, reject) => {
      const done = (error: unknown, principal: AuthenticatedAgent | false, challenges: unknown): void => {
        if (error) return reject(error);
        if (principal) return resolve(principal);
        const list: unknown[] = Array.isArray(challenges) ? challenges : [challenges];
        const refusal = list.find(isRefusal);
        reject(
          refusal?.refusal ??
            new TesseraError(
              'agent_unauthenticated',
              'no agent credential: present a registered TLS client certificate or an "Authorization: Bearer <JWT>" header',
            ),
        );
      };
      // Passport reads only the request's headers and socket (through the strategies): a plain node request will do.
      const middleware = authenticator.authenticate(STRATEGIES, { session: false }, done) as (
        req: IncomingMessage,
        res: ServerResponse,
        next: (error?: unknown) => void,
      ) => void;
      middleware(req, res, (error?: unknown) => reject(error ?? new Error('agent authentication did not conclude')));
    });
}
