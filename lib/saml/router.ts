import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { TesseraError } from '../common/errors.js';
import { addSeconds } from '../common/clock.js';
import { samlId } from '../common/time-ordered-ids.js';
import { asTesseraError, protocolShape } from '../http/error-mapping.js';
import { noStore } from '../http/responses.js';
import type { Views } from '../http/views.js';
import { auditedAgent } from '../audit/index.js';
import { buildIdpMetadata } from './idp-metadata.js';
import { buildErrorResponse } from './response.js';
import { sloRouter, type SloDeps } from './slo.js';
import { sendPostForm } from './post-form.js';
import {
  receiveIdpInitiated,
  receiveSpRequest,
  signOn,
  type SignOnAttempt,
  type SignOnDeps,
  type TrustedSignOnRequest,
} from './sign-on.js';

export interface SamlRouterDeps extends SignOnDeps {
  readonly views: Views;
  /** SP-initiated Single Logout (/saml/slo): the outbox that ends sessions and queues the other SPs' logouts. */
  readonly logout: Pick<SloDeps, 'outbox' | 'onLogoutsQueued'>;
}

/** Metadata is re-signed hourly and valid for a week: long enough to cache, short enough to roll keys. */
const METADATA_REFRESH_MS = 3_600_000;
const METADATA_VALIDITY_SECONDS = 7 * 86_400;

/** /saml: metadata, SSO (Redirect and POST bindings) and IdP-initiated sign-on. */
export function samlRouter(deps: SamlRouterDeps): Router {
  const router = express.Router();
  const urlencoded = express.urlencoded({
    extended: false,
    limit: Math.ceil(deps.config.saml.maxMessageBytes * 1.4) + 1024,
    parameterLimit: 10,
  });

  let metadata: { xml: string; builtAt: number; keysVersion: number } | undefined;
  router.get('/metadata', async (_req, res) => {
    // Picks up a rollover step or a key published by `tessera keys rotate` in another process.
    await deps.keys.refresh();
    const now = deps.clock.now();
    if (!metadata || now.getTime() - metadata.builtAt > METADATA_REFRESH_MS || metadata.keysVersion !== deps.keys.version) {
      const xml = buildIdpMetadata(
        {
          entityId: deps.config.entityId,
          ssoUrl: deps.config.endpoints.sso,
          sloUrl: deps.config.endpoints.slo,
          signingCertificates: deps.keys.publishedSigningCertificates,
          validUntil: addSeconds(now, METADATA_VALIDITY_SECONDS),
          id: samlId(),
        },
        deps.keys.signing,
      );
      metadata = { xml, builtAt: now.getTime(), keysVersion: deps.keys.version };
    }
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/samlmetadata+xml').send(metadata.xml);
  });

  const handle = (receive: (req: Request) => Promise<TrustedSignOnRequest>) => async (req: Request, res: Response) => {
    noStore(res);
    let trusted: TrustedSignOnRequest;
    try {
      trusted = await receive(req);
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, refusal, {}, undefined);
      return refuseWithoutAcs(deps, req, res, refusal);
    }
    const attempt: SignOnAttempt = {};
    try {
      const issued = await signOn(deps, trusted, req, res, attempt);
      deliver(deps, req, res, 200, { acsUrl: issued.acsUrl, samlResponse: issued.samlResponse, relayState: issued.relayState, spEntityId: trusted.sp.entityId });
    } catch (error) {
      const refusal = asTesseraError(error);
      await auditRefusal(deps, req, refusal, attempt, trusted.sp.entityId);
      refuseToAcs(deps, req, res, trusted, refusal);
    }
  };

  router.get(
    '/sso',
    handle(async (req) => receiveSpRequest(deps, { binding: 'redirect', rawQueryString: rawQueryOf(req) })),
  );
  router.post(
    '/sso',
    urlencoded,
    handle(async (req) => {
      const body: unknown = req.body;
      const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      if (typeof form.SAMLRequest !== 'string') {
        throw new TesseraError('saml_malformed_request', 'the HTTP-POST binding needs one SAMLRequest form field');
      }
      if (form.RelayState !== undefined && typeof form.RelayState !== 'string') {
        throw new TesseraError('saml_malformed_request', 'RelayState must be a single value');
      }
      return receiveSpRequest(deps, { binding: 'post', samlRequest: form.SAMLRequest, relayState: form.RelayState });
    }),
  );
  router.get(
    '/sso/initiate',
    handle(async (req) => receiveIdpInitiated(deps, req.query.sp, req.query.RelayState)),
  );

  router.use('/slo', sloRouter({ ...deps, ...deps.logout }));

  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const refusal = asTesseraError(error);
    void auditRefusal(deps, req, refusal, {}, undefined).finally(() => refuseWithoutAcs(deps, req, res, refusal));
  });
  return router;
}

/** The query string exactly as received: Redirect-binding signatures cover these bytes. */
function rawQueryOf(req: Request): string {
  const index = req.originalUrl.indexOf('?');
  return index === -1 ? '' : req.originalUrl.slice(index + 1);
}

function wantsJson(req: Request): boolean {
  return req.accepts(['text/html', 'application/json']) === 'application/json';
}

interface Delivery {
  readonly acsUrl: string;
  readonly samlResponse: string;
  readonly relayState: string | undefined;
  readonly spEntityId: string;
}

/** An auto-submitting form to the ACS, or JSON for headless agents. */
function deliver(deps: SamlRouterDeps, req: Request, res: Response, status: number, delivery: Delivery): void {
  if (wantsJson(req)) {
    res.status(status).json({
      acsUrl: delivery.acsUrl,
      SAMLResponse: delivery.samlResponse,
      ...(delivery.relayState !== undefined ? { RelayState: delivery.relayState } : {}),
    });
    return;
  }
  sendPostForm(res, deps.views, status, {
    destination: delivery.acsUrl,
    samlResponse: delivery.samlResponse,
    relayState: delivery.relayState,
    spEntityId: delivery.spEntityId,
  });
}

/** A refusal the SP should hear about: a signed error Response to its trusted ACS. */
function refuseToAcs(deps: SamlRouterDeps, req: Request, res: Response, trusted: TrustedSignOnRequest, error: TesseraError): void {
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
    samlResponse: Buffer.from(xml, 'utf8').toString('base64'),
    relayState: trusted.relayState,
    spEntityId: trusted.sp.entityId,
  });
}

/** No trusted ACS to answer: a plain error page or JSON, never a redirect. */
function refuseWithoutAcs(deps: SamlRouterDeps, req: Request, res: Response, error: TesseraError): void {
  noStore(res);
  const status = protocolShape(error.code).httpStatus;
  const message = error.code === 'internal' ? 'internal error' : error.message;
  if (wantsJson(req)) {
    res.status(status).json({ error: error.code, message });
    return;
  }
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.status(status).type('html').send(deps.views.render('error', { code: error.code, message }));
}

/** Every refusal is a decision: audited with its reason (the operator detail goes to the log only). */
async function auditRefusal(
  deps: SamlRouterDeps,
  req: Request,
  error: TesseraError,
  attempt: SignOnAttempt,
  sp: string | undefined,
): Promise<void> {
  if (error.code === 'internal') deps.logger.error('signon.failed', { detail: error.internalDetail, path: req.path });
  else if (error.internalDetail) deps.logger.info('signon.denied_detail', { reason: error.code, detail: error.internalDetail });
  await deps.audit.record({
    event: 'signon.denied',
    actor: attempt.agent ? `agent:${attempt.agent.userName}` : 'anonymous',
    agent: attempt.agent ? auditedAgent(attempt.agent) : undefined,
    taskId: req.get('Task-ID'),
    spEntityId: sp,
    reason: error.code,
    details: { message: error.message, path: req.path, sourceAddress: req.socket.remoteAddress },
  });
}
