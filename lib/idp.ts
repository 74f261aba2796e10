import { createServer, type Server } from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from './config/index.js';
import { systemClock, type Clock } from './common/clock.js';
import { createLogger, type Logger } from './common/log.js';
import { openSqliteStore, type Store } from './store/index.js';
import { loadKeyEncryptionKey, loadOrCreateIdpKeys, type IdpKeys } from './keys/index.js';
import { createAgentAuthenticator } from './agents/index.js';
import { loggingAuditLog } from './audit/index.js';
import { orchestratorAuthentication } from './tokens/index.js';
import { createApp } from './http/app.js';
import { Metrics, countingAuditLog } from './http/metrics.js';
import { Views } from './http/views.js';
import { samlRouter } from './saml/index.js';
import { scimRouter } from './scim/router.js';
import { tasksRouter } from './tasks/router.js';

export interface Idp {
  readonly config: Config;
  readonly store: Store;
  readonly keys: IdpKeys;
  readonly app: Express;
  readonly logger: Logger;
  close(): void;
}

export interface IdpOptions {
  readonly config: Config;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The server certificate, written beside the database at start. */
export const TLS_CERTIFICATE_FILE = 'tls-certificate.pem';

const REPLAY_PURGE_INTERVAL_MS = 60_000;
const REPLAY_PURGE_BATCH = 10_000;

/** Composes the IdP: store, keys, authenticators and routers. Nothing listens yet. */
export async function createIdp(options: IdpOptions): Promise<Idp> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  const store = openSqliteStore(config.dataDir);
  try {
    const kek = loadKeyEncryptionKey({ masterKey: config.masterKey, dataDir: config.dataDir, logger });
    const keys = await loadOrCreateIdpKeys({ keys: store.keys, kek, clock, tlsNames: tlsNamesFor(config) });
    const authenticateOrchestrator = orchestratorAuthentication(store.tokens);
    const metrics = new Metrics();
    const audit = countingAuditLog(loggingAuditLog(logger), metrics);
    const app = createApp(
      {
        saml: samlRouter({
          config,
          clock,
          logger,
          keys,
          serviceProviders: store.serviceProviders,
          replay: store.replay,
          tasks: store.tasks,
          sessions: store.sessions,
          audit,
          authenticateAgent: createAgentAuthenticator({
            agents: store.agents,
            replay: store.replay,
            clock,
            jwt: { audience: config.entityId, ...config.agentJwt },
          }),
          views: new Views(),
        }),
        scim: scimRouter({
          agents: store.agents,
          clock,
          logger,
          audit,
          baseUrl: `${config.baseUrl}/scim/v2`,
          maxJsonBytes: config.http.maxJsonBytes,
          authenticate: authenticateOrchestrator,
        }),
        tasks: tasksRouter({
          tasks: store.tasks,
          agents: store.agents,
          serviceProviders: store.serviceProviders,
          clock,
          logger,
          audit,
          config,
          maxJsonBytes: config.http.maxJsonBytes,
          authenticate: authenticateOrchestrator,
        }),
        health: async () => ({ entityId: config.entityId }),
      },
      logger,
      metrics,
    );
    const purge = setInterval(() => {
      store.replay.purgeExpired(clock.now(), REPLAY_PURGE_BATCH).catch((error: unknown) => {
        logger.error('replay.purge_failed', { error: String(error) });
      });
    }, REPLAY_PURGE_INTERVAL_MS);
    purge.unref();
    return {
      config,
      store,
      keys,
      app,
      logger,
      close: () => {
        clearInterval(purge);
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Names the TLS certificate is valid for: the base URL's host and the loopback names. */
function tlsNamesFor(config: Config): string[] {
  const host = new URL(config.baseUrl).hostname.replace(/^\[|\]$/g, '');
  return [...new Set([host, 'localhost', '127.0.0.1', '::1'])];
}

export interface RunningIdp {
  readonly idp: Idp;
  readonly server: Server;
  /** The address actually bound (port 0 picks a free port). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the IdP over HTTPS. Client certificates are requested but not
 * CA-verified: agents are authenticated by pinning, in the agent strategies.
 */
export async function startIdp(options: IdpOptions): Promise<RunningIdp> {
  const idp = await createIdp(options);
  const server = createServer(
    {
      key: idp.keys.tls.keyPem,
      cert: idp.keys.tls.certificatePem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    idp.app,
  );
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(idp.config.port, idp.config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Public material only: lets curl and agents trust the self-signed server certificate (--cacert).
  writeFileSync(path.join(idp.config.dataDir, TLS_CERTIFICATE_FILE), idp.keys.tls.certificatePem, { mode: 0o644 });
  idp.logger.info('server.listening', { url: idp.config.baseUrl, host: idp.config.host, port, entityId: idp.config.entityId });
  return {
    idp,
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          idp.close();
          resolve();
        });
      }),
  };
}
