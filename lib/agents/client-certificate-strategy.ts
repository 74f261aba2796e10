import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AsyncStrategy } from '../common/async-strategy.js';
import { TesseraError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { AgentRepository } from './agent-repository.js';
import type { AuthenticatedAgent } from './authenticated-agent.js';
import { assertCertificateCurrent } from './certificate-validity.js';
import { peerCertificateOf } from './peer-certificate.js';
import { assertCredentialFresh, retiredCredentialError, type CredentialPolicy } from './credential-policy.js';

/**
 * mTLS by pinning: the certificate on the TLS connection is accepted only if its
 * SHA-256 thumbprint is registered to an agent. CA trust plays no part, so no CA
 * can mint a credential for an agent.
 */
export class ClientCertificateStrategy extends AsyncStrategy<AuthenticatedAgent> {
  override readonly name = 'agent-client-certificate';

  constructor(private readonly deps: { agents: AgentRepository; clock: Clock; credentials: CredentialPolicy }) {
    super();
  }

  protected async verify(req: IncomingMessage): Promise<AuthenticatedAgent | undefined> {
    const peer = peerCertificateOf(req.socket as Partial<TLSSocket>);
    if (!peer) return undefined;
    const { thumbprint } = peer;
    const found = await this.deps.agents.findByCertificate(thumbprint);
    if (!found) {
      const known = await this.deps.credentials.repository.find(thumbprint);
      if (known?.retiredAt) throw retiredCredentialError(known.retiredAt, known.retireReason);
      throw new TesseraError('agent_unauthenticated', 'the client certificate is not registered to any agent', {
        internalDetail: `thumbprint ${thumbprint}`,
      });
    }
    const now = this.deps.clock.now();
    assertCertificateCurrent(peer, now);
    assertCredentialFresh(found.certificate, now, this.deps.credentials.maxAgeSeconds);
    return { agent: found.agent, method: 'mtls', credentialId: thumbprint };
  }
}
