import type { IncomingMessage } from 'node:http';
import { compactVerify, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AsyncStrategy } from '../common/async-strategy.js';
import { TesseraError } from '../common/errors.js';
import { parsedCertificate } from '../common/parsed-certificates.js';
import type { Clock } from '../common/clock.js';
import type { ReplayCache } from '../common/replay-cache.js';
import type { Agent, AgentCertificate } from './agent.js';
import type { AgentRepository } from './agent-repository.js';
import type { AuthenticatedAgent } from './authenticated-agent.js';
import { assertCertificateCurrent } from './certificate-validity.js';
import { assertCredentialFresh, retiredCredentialError, type CredentialPolicy } from './credential-policy.js';

/** Asymmetric algorithms only: an HMAC key would have to be shared with us, and "none" proves nothing. */
export const AGENT_JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface AgentJwtSettings {
  /** The IdP entityID: the only accepted audience. */
  readonly audience: string;
  readonly maxLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
}

/**
 * An agent signs a short-lived JWT (iss = sub = its userName) with a key whose
 * certificate is registered to it; the key never leaves the agent (HSM/TPM keys
 * welcome). Each jti is accepted once.
 */
export class AgentJwtStrategy extends AsyncStrategy<AuthenticatedAgent> {
  override readonly name = 'agent-jwt';

  constructor(
    private readonly deps: {
      agents: AgentRepository;
      replay: ReplayCache;
      clock: Clock;
      settings: AgentJwtSettings;
      credentials: CredentialPolicy;
    },
  ) {
    super();
  }

  protected async verify(req: IncomingMessage): Promise<AuthenticatedAgent | undefined> {
    const authorization = req.headers.authorization;
    if (authorization === undefined) return undefined;
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
    if (!match) {
      const scheme = authorization.split(' ')[0]?.toLowerCase();
      throw new TesseraError(
        'agent_unauthenticated',
        scheme === 'basic' ? 'passwords are never accepted: use a client certificate or a signed JWT' : 'the Authorization header must be "Bearer <JWT>"',
      );
    }
    const token = match[1]!;
    const agent = await this.agentNamedBy(token);
    const now = this.deps.clock.now();
    const payload = await this.verifyWithRegisteredKeys(token, agent, now);
    this.checkLifetime(payload, now);

    const exp = payload.exp!;
    const fresh = await this.deps.replay.checkAndStore(
      `agent-jwt:${agent.id}`,
      payload.jti!,
      new Date((exp + this.deps.settings.clockSkewSeconds) * 1000),
      now,
    );
    if (!fresh) throw new TesseraError('agent_credential_replayed', 'this JWT (jti) has already been used');
    return { agent, method: 'jwt', credentialId: payload.jti! };
  }

  /** The issuer claim names the agent; it is trusted only once the signature verifies below. */
  private async agentNamedBy(token: string): Promise<Agent> {
    let claims: JWTPayload;
    try {
      decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new TesseraError('agent_unauthenticated', 'the bearer token is not a well-formed JWT');
    }
    if (typeof claims.iss !== 'string' || claims.iss.length === 0) {
      throw new TesseraError('agent_unauthenticated', 'the JWT has no iss claim naming the agent');
    }
    if (claims.sub !== claims.iss) throw new TesseraError('agent_unauthenticated', 'the JWT sub claim must equal iss');
    const agent = await this.deps.agents.getByUserName(claims.iss);
    if (!agent) throw new TesseraError('agent_unauthenticated', 'the JWT is not signed by a key registered to an agent');
    return agent;
  }

  private async verifyWithRegisteredKeys(token: string, agent: Agent, now: Date): Promise<JWTPayload> {
    const candidates = this.candidateCertificates(token, agent);
    const { settings } = this.deps;
    for (const candidate of candidates) {
      const certificate = parsedCertificate(candidate.pem);
      try {
        const { payload } = await jwtVerify(token, certificate.publicKey, {
          algorithms: AGENT_JWT_ALGORITHMS,
          audience: settings.audience,
          issuer: agent.userName,
          subject: agent.userName,
          requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti'],
          currentDate: now,
          clockTolerance: settings.clockSkewSeconds,
        });
        assertCertificateCurrent(certificate, now);
        assertCredentialFresh(candidate, now, this.deps.credentials.maxAgeSeconds);
        return payload;
      } catch (thrown) {
        if (thrown instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        // A key of another type than the token's algorithm is simply not this token's key.
        if (thrown instanceof joseErrors.JOSENotSupported || thrown instanceof TypeError) continue;
        throw refusalFor(thrown);
      }
    }
    await this.refuseIfSignedByRetired(token, agent);
    throw new TesseraError('agent_unauthenticated', 'the JWT is not signed by a key registered to this agent');
  }

  /** A JWT signed by a retired certificate's key gets a refusal that says so (the signer holds that key). */
  private async refuseIfSignedByRetired(token: string, agent: Agent): Promise<void> {
    for (const retired of this.candidateCertificates(token, agent, 'retired')) {
      try {
        await compactVerify(token, parsedCertificate(retired.pem).publicKey, { algorithms: AGENT_JWT_ALGORITHMS });
      } catch {
        continue;
      }
      const known = await this.deps.credentials.repository.find(retired.thumbprint);
      throw retiredCredentialError(retired.retiredAt!, known?.retireReason);
    }
  }

  /** With an x5t#S256 header only that certificate is tried; otherwise each active one. */
  private candidateCertificates(token: string, agent: Agent, which: 'active' | 'retired' = 'active'): AgentCertificate[] {
    const active = agent.certificates.filter((c) => (c.retiredAt === undefined) === (which === 'active'));
    const header = decodeProtectedHeader(token);
    const hinted = header['x5t#S256'];
    if (typeof hinted !== 'string') return active;
    return active.filter((c) => base64url(Buffer.from(c.thumbprint, 'hex')) === hinted);
  }

  private checkLifetime(payload: JWTPayload, now: Date): void {
    const { maxLifetimeSeconds, clockSkewSeconds } = this.deps.settings;
    const iat = payload.iat!;
    const exp = payload.exp!;
    if (exp - iat > maxLifetimeSeconds) {
      throw new TesseraError('agent_unauthenticated', `the JWT may live at most ${maxLifetimeSeconds} s (exp - iat)`);
    }
    if (iat > now.getTime() / 1000 + clockSkewSeconds) {
      throw new TesseraError('agent_unauthenticated', 'the JWT was issued in the future (iat)');
    }
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
      throw new TesseraError('agent_unauthenticated', 'the JWT jti must be a non-empty string of at most 256 characters');
    }
  }
}

function refusalFor(thrown: unknown): TesseraError {
  if (thrown instanceof joseErrors.JWTExpired) return new TesseraError('agent_unauthenticated', 'the JWT has expired');
  if (thrown instanceof joseErrors.JWTClaimValidationFailed) {
    return new TesseraError('agent_unauthenticated', `the JWT "${thrown.claim}" claim is not acceptable: ${thrown.reason}`);
  }
  if (thrown instanceof joseErrors.JOSEAlgNotAllowed) {
    return new TesseraError('agent_unauthenticated', 'the JWT algorithm is not allowed (asymmetric algorithms only)');
  }
  if (thrown instanceof TesseraError) return thrown;
  return new TesseraError('agent_unauthenticated', 'the JWT could not be verified');
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

