import type { Agent } from './agent.js';
import type { AuthnMethod } from '../sessions/session.js';

export interface AuthenticatedAgent {
  readonly agent: Agent;
  readonly method: AuthnMethod;
  /** The certificate thumbprint (mTLS) or the JWT's jti. */
  readonly credentialId: string;
}
