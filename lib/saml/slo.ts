/**
 * GET|POST /saml/slo: SP-initiated Single Logout over HTTP-Redirect and HTTP-POST.
 * decode → find the SP → verify its signature (always required) → choose where the
 * answer goes (the SP's own SLO endpoint) → check → end the sessions → notify the other
 * SPs of those tasks through the outbox → a signed LogoutResponse back to the SP.
 * Refused before the SP is trusted: an error page. After: a LogoutResponse with the
 * error's status, as for sign-on.
 */
import express, { type Request, type Response, type Router } from 'express';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { TesseraError } from '../common/errors.js';
import type { ReplayCache } from '../common/replay-cache.js';
import type { AuditLog } from '../audit/index.js';
import type { SigningKey } from '../keys/index.js';
import type { LogoutOutbox } from '../sessions/logout-outbox.js';
import { asTesseraError, protocolShape } from '../http/error-mapping.js';
import { noStore } from '../http/responses.js';
import type { Views } from '../http/views.js';
import { checkLogoutRequest, decodeLogoutRequest, verifyLogoutRequest, type InboundSamlMessage, type LogoutRequest } from './logout-request.js';
import { postLogoutResponse, redirectLogoutResponseUrl, SUCCESS, type LogoutResponseInput } from './logout-response.js';
import { BINDINGS, type ServiceProvider, type SpEndpoint } from './service-provider.js';
import type { ServiceProviderRepository } from './sp-repository.js';
import { sendPostForm } from './post-form.js';

export interface SloDeps {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keys: { readonly signing: SigningKey };
  readonly serviceProviders: ServiceProviderRepository;
  readonly replay: ReplayCache;
  readonly audit: AuditLog;
  readonly views: Views;
  readonly outbox: LogoutOutbox;
  /** Wakes the back-channel sender once logouts are queued. */
  readonly onLogoutsQueued: () => void;
}

/** Where the LogoutResponse goes: the SP's https SLO endpoint for the request's binding, else its other front-channel one. */
interface TrustedLogout {
  readonly sp: ServiceProvider;
  readonly endpoint: SpEndpoint;
  readonly request: LogoutRequest;
  readonly relayState: string | undefined;
}

const REPLAY_MARGIN_SECONDS = 60;
const UNSPECIFIED_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';

export function sloRouter(deps: SloDeps): Router {
  const router = express.Router();
  const urlencoded = express.urlencoded({ extended: false, limit: Math.ceil(deps.config.saml.maxMessageBytes * 1.4) + 1024, parameterLimit: 10 });

  const handle = (inbound: (req: Request) => InboundSamlMessage) => async (req: Request, res: Response) => {
    noStore(res);
    let trusted: TrustedLogout;
    try {
      trusted = await receive(deps, inbound(req));
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, refusal, undefined);
      refuseWithoutEndpoint(deps, req, res, refusal);
      return;
    }
    const now = deps.clock.now();
    try {
      await checkLogoutRequest(trusted.request, {
        now,
        sloUrl: deps.config.endpoints.slo,
        clockSkewSeconds: deps.config.saml.clockSkewSeconds,
        replay: deps.replay,
        replayTtlSeconds: deps.config.saml.clockSkewSeconds * 2 + REPLAY_MARGIN_SECONDS,
      });
      const { request, sp } = trusted;
      // A NameID names the agent only in the format the SP received it in (unspecified matches any).
      const format = request.nameIdFormat;
      const sessions = (await deps.outbox.findLiveSessions(sp.entityId, request.nameId, request.sessionIndexes, now)).filter(
        (session) => format === undefined || format === session.nameIdFormat || format === UNSPECIFIED_FORMAT,
      );
      const revocation = await deps.outbox.revokeForSpLogout(sp.entityId, sessions.map((s) => s.id), now);
      await deps.audit.record({
        event: 'logout.requested',
        actor: `sp:${sp.entityId}`,
        spEntityId: sp.entityId,
        agentId: revocation.revoked[0]?.agentId,
        taskId: revocation.revoked[0]?.taskId,
        details: {
          requestId: request.id,
          nameId: request.nameId,
          sessionIndexes: request.sessionIndexes,
          binding: trusted.endpoint.binding,
          revokedSessions: revocation.revoked.map((s) => s.id),
          otherSpsNotified: revocation.queued,
        },
      });
      if (revocation.queued > 0) deps.onLogoutsQueued();
      respond(deps, req, res, trusted, { topStatus: SUCCESS, secondStatus: undefined, statusMessage: undefined });
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, refusal, trusted.sp.entityId);
      const shape = protocolShape(refusal.code);
      respond(deps, req, res, trusted, {
        topStatus: shape.samlTop,
        secondStatus: shape.samlSecond,
        statusMessage: refusal.code === 'internal' ? undefined : refusal.message,
      });
    }
  };

  router.get('/', handle((req) => ({ binding: 'redirect', rawQueryString: rawQueryOf(req) })));
  router.post(
    '/',
    urlencoded,
    handle((req) => {
      const body: unknown = req.body;
      const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      if (form.SAMLResponse !== undefined) throw new TesseraError('saml_malformed_request', 'this IdP sends no front-channel LogoutRequests, so it takes no LogoutResponse here');
      if (typeof form.SAMLRequest !== 'string') throw new TesseraError('saml_malformed_request', 'the HTTP-POST binding needs one SAMLRequest form field');
      if (form.RelayState !== undefined && typeof form.RelayState !== 'string') throw new TesseraError('saml_malformed_request', 'RelayState must be a single value');
      return { binding: 'post', message: form.SAMLRequest, relayState: form.RelayState };
    }),
  );
  return router;
}

async function receive(deps: SloDeps, inbound: InboundSamlMessage): Promise<TrustedLogout> {
  const decoded = decodeLogoutRequest(inbound, deps.config.saml.maxMessageBytes);
  const sp = await deps.serviceProviders.get(decoded.unverifiedIssuer);
  if (!sp) throw new TesseraError('saml_unknown_sp', 'the LogoutRequest Issuer is not a registered SP');
  const request = verifyLogoutRequest(decoded, sp);
  const wanted = decoded.binding === 'redirect' ? BINDINGS.redirect : BINDINGS.post;
  const usable = sp.singleLogoutServices.filter((e) => (e.binding === BINDINGS.redirect || e.binding === BINDINGS.post) && isHttps(e.responseLocation ?? e.location));
  const endpoint = usable.find((e) => e.binding === wanted) ?? usable[0];
  if (!endpoint) throw new TesseraError('saml_unsupported_binding', 'the SP publishes no https SingleLogoutService for HTTP-Redirect or HTTP-POST to answer to');
  return { sp, endpoint, request, relayState: decoded.relayState };
}

function isHttps(location: string): boolean {
  try {
    return new URL(location).protocol === 'https:';
  } catch {
    return false;
  }
}

function respond(
  deps: SloDeps,
  req: Request,
  res: Response,
  trusted: TrustedLogout,
  status: Pick<LogoutResponseInput, 'topStatus' | 'secondStatus' | 'statusMessage'>,
): void {
  const destination = trusted.endpoint.responseLocation ?? trusted.endpoint.location;
  const input: LogoutResponseInput = {
    id: '_' + randomBytes(20).toString('hex'),
    inResponseTo: trusted.request.id,
    issuer: deps.config.entityId,
    destination,
    issueInstant: deps.clock.now(),
    ...status,
  };
  const json = wantsJson(req);
  if (trusted.endpoint.binding === BINDINGS.redirect) {
    const url = redirectLogoutResponseUrl(input, trusted.relayState, deps.keys.signing);
    if (json) res.status(200).json({ binding: BINDINGS.redirect, location: url });
    else res.redirect(303, url);
    return;
  }
  const samlResponse = postLogoutResponse(input, deps.keys.signing);
  if (json) {
    res.status(200).json({ binding: BINDINGS.post, location: destination, SAMLResponse: samlResponse, ...(trusted.relayState !== undefined ? { RelayState: trusted.relayState } : {}) });
    return;
  }
  sendPostForm(res, deps.views, 200, { destination, samlResponse, relayState: trusted.relayState, spEntityId: trusted.sp.entityId });
}

function refuseWithoutEndpoint(deps: SloDeps, req: Request, res: Response, error: TesseraError): void {
  const status = protocolShape(error.code).httpStatus;
  const message = error.code === 'internal' ? 'internal error' : error.message;
  if (wantsJson(req)) {
    res.status(status).json({ error: error.code, message });
    return;
  }
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.status(status).type('html').send(deps.views.render('error', { code: error.code, message }));
}

async function auditRefusal(deps: SloDeps, req: Request, error: TesseraError, sp: string | undefined): Promise<void> {
  if (error.code === 'internal') deps.logger.error('logout.failed_internally', { detail: error.internalDetail });
  await deps.audit.record({
    event: 'logout.denied',
    actor: sp ? `sp:${sp}` : 'anonymous',
    spEntityId: sp,
    reason: error.code,
    details: { message: error.message, method: req.method, sourceAddress: req.socket.remoteAddress },
  });
}

function rawQueryOf(req: Request): string {
  const index = req.originalUrl.indexOf('?');
  return index === -1 ? '' : req.originalUrl.slice(index + 1);
}

function wantsJson(req: Request): boolean {
  return req.accepts(['text/html', 'application/json']) === 'application/json';
}
