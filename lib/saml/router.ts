import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { addSeconds } from '../common/clock.js';
import { samlId } from '../common/time-ordered-ids.js';
import { asTesseraError } from '../http/error-mapping.js';
import { requestTarget } from '../http/request.js';
import { noStore } from '../http/responses.js';
import { buildIdpMetadata } from './idp-metadata.js';
import { sloRouter, type SloDeps } from './slo.js';
import {
  auditRefusal,
  idpInitiatedEndpoint,
  postBindingEndpoint,
  redirectBindingEndpoint,
  refuseWithoutAcs,
  type SignOnEndpointDeps,
  type SignOnHandler,
} from './sign-on-endpoints.js';

/** The sign-on handlers, each over plain node:http (sign-on-endpoints.ts). */
export interface SignOnEndpoints {
  readonly initiate: SignOnHandler;
  readonly redirect: SignOnHandler;
  readonly post: SignOnHandler;
}

export interface SamlRouterDeps extends SignOnEndpointDeps {
  /** The same handler instances the direct routes serve (idp.ts), so Express and node:http answer alike. */
  readonly endpoints: SignOnEndpoints;
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

  // Express answers HEAD with a GET route's handler, body dropped. These GETs sign on or log
  // out: a HEAD (a link checker, a prefetcher) would write a session or end one unseen.
  const headRefused = (allow: string) => (_req: Request, res: Response) => {
    noStore(res);
    res.setHeader('Allow', allow);
    res.status(405).end();
  };
  router.head('/sso', headRefused('GET, POST'));
  router.head('/sso/initiate', headRefused('GET'));
  router.head('/slo', headRefused('GET, POST'));

  // The same handlers direct-routes.ts serves without Express; here for the paths Express
  // also matches (another letter case, a trailing slash).
  const { endpoints } = deps;
  const mount = (handler: SignOnHandler) => (req: Request, res: Response) => handler(req, res, requestTarget(req.originalUrl));
  router.get('/sso', mount(endpoints.redirect));
  router.post('/sso', urlencoded, mount(endpoints.post));
  router.get('/sso/initiate', mount(endpoints.initiate));

  router.use('/slo', sloRouter({ ...deps, ...deps.logout }));

  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const refusal = asTesseraError(error);
    void auditRefusal(deps, req, requestTarget(req.originalUrl), refusal, {}, undefined).finally(() => refuseWithoutAcs(deps, req, res, refusal));
  });
  return router;
}

/** The sign-on handlers for these deps: build them once and hand them to samlRouter and the direct routes. */
export function signOnEndpoints(deps: SignOnEndpointDeps): SignOnEndpoints {
  return { initiate: idpInitiatedEndpoint(deps), redirect: redirectBindingEndpoint(deps), post: postBindingEndpoint(deps) };
}
