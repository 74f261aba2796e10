import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { TesseraError } from '../common/errors.js';
import { samlId } from '../common/time-ordered-ids.js';
import { asTesseraError, protocolShape } from '../http/error-mapping.js';
import { noStore, prefersJson, sendHtml, sendJson, sendJsonText } from '../http/responses.js';
import { headerValue, type RequestTarget } from '../http/request.js';
import type { Views } from '../http/views.js';
import { auditedAgent } from '../audit/index.js';
import { buildErrorResponse } from './response.js';
import { sendPostForm } from './post-form.js';
import {
  receiveIdpInitiated,
  receiveSpRequest,
  signOn,
  type SignOnAttempt,
  type SignOnDeps,
  type TrustedSignOnRequest,
} from './sign-on.js';
import { utf8Base64 } from '../common/base64.js';

/*
 * The sign-on endpoints over plain node:http requests and responses, so that
 * they can be served without Express (http/direct-routes.ts): a sign-on is the
 * request an IdP for agents answers most, and Express's per-request work (it
 * re-prototypes req and res, then walks its layers) costs ~100 µs of CPU, a
 * tenth of a sign-on. The Express router mounts the same handlers.
 */

export interface SignOnEndpointDeps extends SignOnDeps {
  readonly views: Views;
}

export type SignOnHandler = (req: IncomingMessage, res: ServerResponse, target: RequestTarget) => Promise<void>;

type Receive = (req: IncomingMessage, target: RequestTarget) => Promise<TrustedSignOnRequest>;

/** GET /saml/sso/initiate?sp=…&RelayState=…: IdP-initiated sign-on. */
export function idpInitiatedEndpoint(deps: SignOnEndpointDeps): SignOnHandler {
  return signOnEndpoint(deps, async (_req, target) => {
    // As Express's 'simple' query parser: a repeated parameter is an array, which the checks refuse.
    const query = parseQuery(target.rawQuery);
    return receiveIdpInitiated(deps, query.sp, query.RelayState);
  });
}

/** GET /saml/sso: an AuthnRequest in the HTTP-Redirect binding. */
export function redirectBindingEndpoint(deps: SignOnEndpointDeps): SignOnHandler {
  return signOnEndpoint(deps, async (_req, target) => receiveSpRequest(deps, { binding: 'redirect', rawQueryString: target.rawQuery }));
}

/** POST /saml/sso: an AuthnRequest in the HTTP-POST binding; the caller has parsed the form into req.body. */
export function postBindingEndpoint(deps: SignOnEndpointDeps): SignOnHandler {
  return signOnEndpoint(deps, async (req) => {
    const body: unknown = (req as IncomingMessage & { body?: unknown }).body;
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof form.SAMLRequest !== 'string') {
      throw new TesseraError('saml_malformed_request', 'the HTTP-POST binding needs one SAMLRequest form field');
    }
    if (form.RelayState !== undefined && typeof form.RelayState !== 'string') {
      throw new TesseraError('saml_malformed_request', 'RelayState must be a single value');
    }
    return receiveSpRequest(deps, { binding: 'post', samlRequest: form.SAMLRequest, relayState: form.RelayState });
  });
}

function signOnEndpoint(deps: SignOnEndpointDeps, receive: Receive): SignOnHandler {
  return async (req, res, target) => {
    noStore(res);
    let trusted: TrustedSignOnRequest;
    try {
      trusted = await receive(req, target);
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, target, refusal, {}, undefined);
      return refuseWithoutAcs(deps, req, res, refusal);
    }
    const attempt: SignOnAttempt = {};
    try {
      const issued = await signOn(deps, trusted, req, res, attempt);
      deliver(deps, req, res, 200, { acsUrl: issued.acsUrl, samlResponse: issued.samlResponse, relayState: issued.relayState, spEntityId: trusted.sp.entityId });
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, target, refusal, attempt, trusted.sp.entityId);
      refuseToAcs(deps, req, res, trusted, refusal);
    }
  };
}

interface Delivery {
  readonly acsUrl: string;
  /** The Response, base64-encoded (Buffer.toString('base64')). */
  readonly samlResponse: string;
  readonly relayState: string | undefined;
  readonly spEntityId: string;
}

/** An auto-submitting form to the ACS, or JSON for headless agents. */
function deliver(deps: SignOnEndpointDeps, req: IncomingMessage, res: ServerResponse, status: number, delivery: Delivery): void {
  if (prefersJson(req)) {
    sendJsonText(res, status, deliveryJson(delivery));
    return;
  }
  sendPostForm(res, deps.views, status, {
    destination: delivery.acsUrl,
    samlResponse: delivery.samlResponse,
    relayState: delivery.relayState,
    spEntityId: delivery.spEntityId,
  });
}

/**
 * The JSON answer for a headless agent, as JSON.stringify would write it, but
 * written around the SAMLResponse: base64 needs no escaping, and JSON.stringify
 * scanning its ~9 KB took ~10 µs of every sign-on.
 */
function deliveryJson(delivery: Delivery): string {
  const relayState = delivery.relayState !== undefined ? `,"RelayState":${JSON.stringify(delivery.relayState)}` : '';
  return `{"acsUrl":${JSON.stringify(delivery.acsUrl)},"SAMLResponse":"${delivery.samlResponse}"${relayState}}`;
}

/** A refusal the SP should hear about: a signed error Response to its trusted ACS. */
function refuseToAcs(deps: SignOnEndpointDeps, req: IncomingMessage, res: ServerResponse, trusted: TrustedSignOnRequest, error: TesseraError): void {
  const shape = protocolShape(error.code);
  const xml = buildErrorResponse(
    {
      issuer: deps.config.entityId,
      destination: trusted.acs.location,
      inResponseTo: trusted.request?.id,
      responseId: samlId(),
      issueInstant: deps.clock.now(),
      topStatus: shape.samlTop,
      secondStatus: shape.samlSecond,
      statusMessage: error.code === 'internal' ? undefined : error.message,
    },
    deps.keys.signing,
  );
  const status = shape.httpStatus === 400 ? 400 : error.code === 'internal' ? 500 : 403;
  deliver(deps, req, res, status, {
    acsUrl: trusted.acs.location,
    samlResponse: utf8Base64(xml),
    relayState: trusted.relayState,
    spEntityId: trusted.sp.entityId,
  });
}

/** No trusted ACS to answer: a plain error page or JSON, never a redirect. */
export function refuseWithoutAcs(deps: SignOnEndpointDeps, req: IncomingMessage, res: ServerResponse, error: TesseraError): void {
  noStore(res);
  const status = protocolShape(error.code).httpStatus;
  const message = error.code === 'internal' ? 'internal error' : error.message;
  if (prefersJson(req)) {
    sendJson(res, status, { error: error.code, message });
    return;
  }
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  sendHtml(res, status, deps.views.render('error', { code: error.code, message }));
}

/** Every refusal is a decision: audited with its reason (the operator detail goes to the log only). */
export async function auditRefusal(
  deps: SignOnEndpointDeps,
  req: IncomingMessage,
  target: RequestTarget,
  error: TesseraError,
  attempt: SignOnAttempt,
  sp: string | undefined,
): Promise<void> {
  if (error.code === 'internal') deps.logger.error('signon.failed', { detail: error.internalDetail, path: target.path });
  else if (error.internalDetail) deps.logger.info('signon.denied_detail', { reason: error.code, detail: error.internalDetail });
  await deps.audit.record({
    event: 'signon.denied',
    actor: attempt.agent ? `agent:${attempt.agent.userName}` : 'anonymous',
    agent: attempt.agent ? auditedAgent(attempt.agent) : undefined,
    taskId: headerValue(req, 'task-id'),
    spEntityId: sp,
    reason: error.code,
    details: { message: error.message, path: target.path, sourceAddress: req.socket.remoteAddress },
  });
}
