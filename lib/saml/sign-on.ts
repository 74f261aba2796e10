import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue } from '../http/request.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../common/clock.js';
import { addSeconds } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { TesseraError } from '../common/errors.js';
import { normaliseAddress } from '../common/cidr.js';
import { samlId, timeOrderedUuid } from '../common/time-ordered-ids.js';
import type { ReplayCache } from '../common/replay-cache.js';
import type { Agent, AgentAuthenticator } from '../agents/index.js';
import { auditedAgent, type AuditLog } from '../audit/index.js';
import type { IdpKeys } from '../keys/index.js';
import type { IssuanceRepository } from '../sessions/issuance.js';
import type { TaskRepository } from '../tasks/task-repository.js';
import { authorizeTask } from '../tasks/task-authorization.js';
import type { PolicyEnforcer } from '../policy/enforcer.js';
import type { ServiceProviderRepository } from './sp-repository.js';
import type { ServiceProvider, SpEndpoint } from './service-provider.js';
import { isUsableAssertionConsumerService } from './sp-metadata.js';
import {
  checkAuthnRequest,
  decodeAuthnRequest,
  selectAssertionConsumerService,
  verifyAuthnRequest,
  type AuthnRequest,
  type InboundAuthnRequest,
  MAX_RELAY_STATE_BYTES,
} from './authn-request.js';
import { agentAttributes } from './agent-attributes.js';
import { NAMEID_FORMAT } from './namespaces.js';
import { AUTHN_CONTEXT, buildSuccessResponse } from './response.js';
import { utf8Base64 } from '../common/base64.js';

export interface SignOnDeps {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keys: IdpKeys;
  readonly serviceProviders: ServiceProviderRepository;
  readonly replay: ReplayCache;
  readonly tasks: TaskRepository;
  /** Commits an allowed sign-on's session, learning and audit entry; resolves once they are durable. */
  readonly issuance: IssuanceRepository;
  readonly authenticateAgent: AgentAuthenticator;
  readonly audit: AuditLog;
  /** Declarative policy and behavioural risk (issue 7); absent, every authorised task is allowed. */
  readonly policy?: PolicyEnforcer;
}

/** What a sign-on attempt learnt before it ended, for the audit record of a refusal. */
export interface SignOnAttempt {
  agent?: Agent;
}

/**
 * A request whose reply destination we trust: the SP is registered, its request
 * (if any) verified, and the ACS is one of its registered endpoints. From here on
 * errors go back to that ACS as SAML Responses.
 */
export interface TrustedSignOnRequest {
  readonly sp: ServiceProvider;
  readonly acs: SpEndpoint;
  /** undefined for IdP-initiated sign-on. */
  readonly request: AuthnRequest | undefined;
  readonly relayState: string | undefined;
}

export interface IssuedResponse {
  readonly acsUrl: string;
  readonly samlResponse: string;
  readonly relayState: string | undefined;
  readonly sessionId: string;
  readonly assertionId: string;
}

const REPLAY_MARGIN_SECONDS = 60;

/** SP-initiated: decode → find the SP → verify → choose the ACS. Errors here cannot go to an ACS. */
export async function receiveSpRequest(deps: SignOnDeps, inbound: InboundAuthnRequest): Promise<TrustedSignOnRequest> {
  const decoded = decodeAuthnRequest(inbound, { maxMessageBytes: deps.config.saml.maxMessageBytes });
  const sp = await deps.serviceProviders.get(decoded.unverifiedIssuer);
  if (!sp) throw new TesseraError('saml_unknown_sp', 'the AuthnRequest Issuer is not a registered SP');
  const request = verifyAuthnRequest(decoded, sp);
  const acs = selectAssertionConsumerService(sp, request);
  return { sp, acs, request, relayState: decoded.relayState };
}

/** IdP-initiated: the SP is named in the query and its default HTTP-POST ACS receives the Response. */
export async function receiveIdpInitiated(
  deps: SignOnDeps,
  spEntityId: unknown,
  relayState: unknown,
): Promise<TrustedSignOnRequest> {
  if (typeof spEntityId !== 'string' || spEntityId === '') {
    throw new TesseraError('saml_malformed_request', 'the sp query parameter must name one registered SP entityID');
  }
  if (relayState !== undefined && (typeof relayState !== 'string' || Buffer.byteLength(relayState) > MAX_RELAY_STATE_BYTES)) {
    throw new TesseraError('saml_malformed_request', `RelayState must be one value of at most ${MAX_RELAY_STATE_BYTES} bytes`);
  }
  const sp = await deps.serviceProviders.get(spEntityId);
  if (!sp) throw new TesseraError('saml_unknown_sp', 'the sp parameter does not name a registered SP');
  const acs = defaultPostAcs(sp);
  return { sp, acs, request: undefined, relayState };
}

function defaultPostAcs(sp: ServiceProvider): SpEndpoint {
  const usable = sp.assertionConsumerServices.filter(isUsableAssertionConsumerService);
  const chosen =
    usable.find((e) => e.isDefault) ?? [...usable].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))[0];
  if (!chosen) throw new TesseraError('saml_acs_not_registered', 'the SP has no https HTTP-POST AssertionConsumerService');
  return chosen;
}

/**
 * The sign-on proper, in order: the request's own checks, the agent's credential,
 * the agent's state, the task, then the session and the signed Response.
 */
export async function signOn(
  deps: SignOnDeps,
  trusted: TrustedSignOnRequest,
  req: IncomingMessage,
  res: ServerResponse,
  attempt: SignOnAttempt,
): Promise<IssuedResponse> {
  const now = deps.clock.now();
  if (trusted.request) {
    await checkAuthnRequest(trusted.request, {
      now,
      ssoUrl: deps.config.endpoints.sso,
      clockSkewSeconds: deps.config.saml.clockSkewSeconds,
      replay: deps.replay,
      replayTtlSeconds: deps.config.saml.clockSkewSeconds * 2 + REPLAY_MARGIN_SECONDS,
    });
  }
  const authenticated = await deps.authenticateAgent(req, res);
  const agent = authenticated.agent;
  attempt.agent = agent;
  if (!agent.active) throw new TesseraError('agent_inactive', 'the agent is deactivated');

  const sourceAddress = normaliseAddress(req.socket.remoteAddress ?? '');
  const { task, grantedScopes } = await authorizeTask(deps.tasks, {
    taskId: headerValue(req, 'task-id'),
    agent,
    spEntityId: trusted.sp.entityId,
    sourceAddress,
    now,
  });
  // Policy after the task is authorised, before any session: a refusal here throws with a stable code only.
  const release = deps.policy
    ? await deps.policy.checkSignOn({
        agent,
        task,
        grantedScopes,
        spEntityId: trusted.sp.entityId,
        sourceAddress,
        claimedComputeZone: headerValue(req, 'compute-zone'),
        now,
        onHeld: (approvalId) => res.setHeader('Tessera-Approval-Id', approvalId),
      })
    : undefined;

  const nameIdFormat = chooseNameIdFormat(trusted);
  const sessionExpiry = new Date(
    Math.min(addSeconds(now, deps.config.tiers[task.tier].sessionLifetimeSeconds).getTime(), task.expiresAt.getTime()),
  );
  const subjectExpiry = new Date(
    Math.min(addSeconds(now, deps.config.saml.assertionLifetimeSeconds).getTime(), sessionExpiry.getTime()),
  );
  const candidate = {
    id: timeOrderedUuid(),
    sessionIndex: samlId(),
    agentId: agent.id,
    taskId: task.id,
    spEntityId: trusted.sp.entityId,
    nameId: nameIdFormat === NAMEID_FORMAT.transient ? samlId() : agent.userName,
    nameIdFormat,
    assertionId: samlId(),
    authnMethod: authenticated.method,
    createdAt: now,
    expiresAt: sessionExpiry,
    revokedAt: undefined,
    revokeReason: undefined,
  };
  // Signing on again for the same task and SP refreshes that session (same SessionIndex) within the
  // task's bounds, unless it went idle past the inactivity window. The task and agent are re-checked
  // atomically, and the session, the baseline's learning and the audit entry commit together.
  const inactivity = deps.config.cleanup.inactivityWindowSeconds;
  const scopes = release?.scopes ?? grantedScopes;
  const issued = await deps.issuance.issue({
    candidate,
    now,
    idleSince: inactivity === undefined ? undefined : addSeconds(now, -inactivity),
    learning: release?.learning,
    audit: (opened) => ({
      event: 'signon.issued',
      actor: `agent:${agent.userName}`,
      agent: auditedAgent(agent),
      taskId: task.id,
      spEntityId: trusted.sp.entityId,
      assertionId: opened.session.assertionId,
      sessionId: opened.session.id,
      details: {
        authnMethod: authenticated.method,
        flow: trusted.request ? 'sp-initiated' : 'idp-initiated',
        scopes,
        sessionNotOnOrAfter: sessionExpiry.toISOString(),
        sessionRefreshed: opened.refreshed,
        sourceAddress,
      },
    }),
  });
  if (!issued) throw new TesseraError('task_not_open', 'the task or agent ended during sign-on');
  deps.audit.recorded(issued.audited.event, issued.audited.entry);
  const session = issued.opened.session;

  // Built after the commit: a Response never leaves for a session that is not on record.
  const samlResponse = buildSuccessResponse(
    {
      issuer: deps.config.entityId,
      destination: trusted.acs.location,
      inResponseTo: trusted.request?.id,
      audience: trusted.sp.entityId,
      nameId: session.nameId,
      nameIdFormat,
      responseId: samlId(),
      assertionId: session.assertionId,
      sessionIndex: session.sessionIndex,
      issueInstant: now,
      notBefore: addSeconds(now, -deps.config.saml.clockSkewSeconds),
      notOnOrAfter: subjectExpiry,
      sessionNotOnOrAfter: sessionExpiry,
      authnInstant: now,
      authnContextClassRef: authenticated.method === 'mtls' ? AUTHN_CONTEXT.tlsClient : AUTHN_CONTEXT.x509,
      subjectAddress: sourceAddress || undefined,
      attributes: agentAttributes(agent, task, scopes, release?.releaseAttributes),
      signResponse: trusted.sp.signResponse,
      encryptionCertificatePem: trusted.sp.encryptionCertificates[0],
    },
    deps.keys.signing,
  );
  return {
    acsUrl: trusted.acs.location,
    samlResponse: utf8Base64(samlResponse),
    relayState: trusted.relayState,
    sessionId: session.id,
    assertionId: session.assertionId,
  };
}

/** persistent unless the request or the SP's metadata asks for transient. */
function chooseNameIdFormat(trusted: TrustedSignOnRequest): string {
  const requested = trusted.request?.nameIdFormat;
  if (requested === NAMEID_FORMAT.transient) return NAMEID_FORMAT.transient;
  if (requested === NAMEID_FORMAT.persistent) return NAMEID_FORMAT.persistent;
  const preferred = trusted.sp.nameIdFormats.find((f) => f === NAMEID_FORMAT.persistent || f === NAMEID_FORMAT.transient);
  return preferred ?? NAMEID_FORMAT.persistent;
}
