import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/log.js';
import { asTesseraError, protocolShape } from './error-mapping.js';
import type { MetricsExposition } from './cluster-metrics.js';
import type { Metrics } from './metrics.js';

export interface AppRoutes {
  readonly saml: Router;
  readonly scim: Router;
  readonly tasks: Router;
  readonly health: () => Promise<Record<string, unknown>>;
  /** What /metrics serves: this process's registry, or the cluster's merged (cluster-metrics.ts). */
  readonly metrics: MetricsExposition;
}

/** The one route table: every public path of the IdP is mounted here. */
export function createApp(routes: AppRoutes, logger: Logger, metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  // No ETag hashed over every body: sign-on answers are single-use and no-store, and SCIM sets its own (meta.version).
  app.set('etag', false);
  app.use(requestLog(logger, metrics));
  app.use(securityHeaders);

  app.get('/healthz', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok', ...(await routes.health()) });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    let exposition: string;
    try {
      exposition = await routes.metrics.text();
    } catch (error) {
      const unavailable = asTesseraError(error);
      logger.error('metrics.unavailable', { code: unavailable.code, detail: unavailable.internalDetail ?? unavailable.message });
      // Prometheus reads any non-2xx as a failed scrape (up = 0), which is what this is.
      res.status(protocolShape(unavailable.code).httpStatus).type('text/plain').send(`${unavailable.message}\n`);
      return;
    }
    res.type(routes.metrics.contentType).send(exposition);
  });
  app.use('/saml', routes.saml);
  app.use('/scim/v2', routes.scim);
  app.use('/api/v1/tasks', routes.tasks);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'no such endpoint' });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const tesseraError = asTesseraError(error);
    logger.error('http.unhandled_error', { code: tesseraError.code, detail: tesseraError.internalDetail });
    res.status(500).json({ error: 'internal', message: 'internal error' });
  });
  return app;
}

/** One JSON line and one metric sample per request, once answered. Query strings are left out: they carry SAML messages. */
export function logWhenAnswered(logger: Logger, metrics: Metrics, req: IncomingMessage, res: ServerResponse, path: string): void {
  const started = performance.now();
  res.on('finish', () => {
    const durationMs = performance.now() - started;
    metrics.observeRequest(req.method ?? '', path, res.statusCode, durationMs / 1000);
    logger.info('http.request', {
      method: req.method,
      path,
      status: res.statusCode,
      durationMs: Math.round(durationMs * 100) / 100,
      remoteAddress: req.socket.remoteAddress,
    });
  });
}

function requestLog(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // Captured now: routers rewrite req.url while they handle the request.
    logWhenAnswered(logger, metrics, req, res, req.path);
    next();
  };
}

/** On every response: nothing Tessera serves is meant to be framed, sniffed or sent over plain HTTP. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  setSecurityHeaders(res);
  next();
}
