import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Config } from './config/index.js';
import { systemClock, type Clock } from './common/clock.js';
import { createLogger, type Logger } from './common/log.js';
import type { RiskRepository } from './risk/risk-repository.js';
import { openGroupCommitDatabase, openSqliteStore, sqliteStore, startCheckpointThread, withBatchedWrites, withSnapshotReads, type Store } from './store/index.js';
import { loadKeyEncryptionKey, loadOrCreateIdpKeys, rotateIfDue, type IdpKeys, type KeyTransition } from './keys/index.js';
import { createAgentAuthenticator } from './agents/index.js';
import { AuditCheckpointer, chainedAuditLog, type AuditLog, type ChainedAuditLog } from './audit/index.js';
import { SessionSweeper } from './sessions/sweeper.js';
import { LogoutFanOut } from './sessions/logout-fanout.js';
import type { IssuanceRepository } from './sessions/issuance.js';
import { orchestratorAuthentication } from './tokens/index.js';
import { createApp } from './http/app.js';
import { Metrics, countingAuditLog } from './http/metrics.js';
import { processExposition, workerExposition } from './http/cluster-metrics.js';
import { Views } from './http/views.js';
import { samlRouter, signOnEndpoints, prepareSchemaValidation } from './saml/index.js';
import { withDirectRoutes } from './http/direct-routes.js';
import { scimRouter } from './scim/router.js';
import { tasksRouter } from './tasks/router.js';
import { PolicyEnforcer } from './policy/enforcer.js';
import { AlertDispatcher } from './alerts/alert-dispatcher.js';
import { WebhookAlerts } from './alerts/security-alert.js';

export interface Idp {
  readonly config: Config;
  readonly store: Store;
  readonly keys: IdpKeys;
  /** Every route: the sign-on endpoints directly, the rest through Express. */
  readonly requestListener: RequestListener;
  readonly logger: Logger;
  /** The hash-chained audit trail (flush() waits for queued entries). */
  readonly auditLog: ChainedAuditLog;
  readonly auditCheckpoints: AuditCheckpointer;
  /** Session lifetimes and the cleanup policy; runs on a timer, sweep() runs it now. */
  readonly sweeper: SessionSweeper;
  /** Back-channel LogoutRequests from the durable outbox; wake() sends what is due now. */
  readonly logoutFanOut: LogoutFanOut;
  /** Signed security events to the configured webhooks; wake() sends what is due now. */
  readonly alertDispatcher: AlertDispatcher;
  /** This process's Prometheus registry (a cluster primary merges it with its workers'). */
  readonly metrics: Metrics;
  /** Scheduled rotation (when configured), then a key-table re-read; runs on a timer. */
  maintainKeys(): Promise<void>;
  /** Stops the background jobs, writes the queued audit entries and a last checkpoint, then closes. */
  shutdown(): Promise<void>;
  close(): void;
}

export interface IdpOptions {
  readonly config: Config;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * standalone (the default): one process does everything. Under `tessera start`
   * with several workers (lib/cluster.ts) the primary runs the jobs that must run
   * once (sweeper, scheduled rotation, replay purge) and the workers serve HTTP.
   */
  readonly role?: 'standalone' | 'primary' | 'worker';
  /**
   * CA certificates (PEM) trusted for SPs' TLS on back-channel calls, beside Node's store
   * (which already holds NODE_EXTRA_CA_CERTS, read by Node at process start).
   */
  readonly trustedCaCertificates?: readonly string[];
}

/** The server certificate, written beside the database at start. */
export const TLS_CERTIFICATE_FILE = 'tls-certificate.pem';

const REPLAY_PURGE_INTERVAL_MS = 60_000;
/** A finished logout delivery stays in the outbox this long, then the sweeper deletes it: the outbox holds what is in flight, the audit log the history. */
const LOGOUT_DELIVERY_RETENTION_SECONDS = 7 * 86_400;
const REPLAY_PURGE_BATCH = 10_000;
/**
 * The sign-on connections never checkpoint inside a commit: a thread of one process does it on
 * this timer. Each checkpoint ends with an fsync of the database file that the sign-ons' own WAL
 * syncs queue behind; measured at 300 sign-ons/s, p99 was 79 ms with checkpoints every 200 ms,
 * 49 ms every second, 30-45 ms every 5 s.
 */
const WAL_CHECKPOINT_INTERVAL_MS = 5_000;
/** How often a process re-reads the key table (rollover steps, keys published by another process). */
const KEY_MAINTENANCE_INTERVAL_MS = 30_000;
const CHECKPOINT_TICK_MAX_MS = 60_000;

/** Composes the IdP: store, keys, authenticators and routers. Nothing listens yet. */
export async function createIdp(options: IdpOptions): Promise<Idp> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  const store = openSqliteStore(config.dataDir, { automaticCheckpoints: false });
  // The sign-on path writes through a connection of its own that syncs the WAL once per
  // batch, off the event loop (store/group-commit.ts); everything else keeps FULL syncs.
  const signOnDb = openGroupCommitDatabase(config.dataDir);
  const runsSingletonJobs = (options.role ?? 'standalone') !== 'worker';
  try {
    const kek = loadKeyEncryptionKey({ masterKey: config.masterKey, dataDir: config.dataDir, logger });
    const metrics = new Metrics();
    const auditLog = chainedAuditLog({ store: store.audit, clock, logger });
    const audit = countingAuditLog(auditLog, metrics);
    const signOnRepositories = sqliteStore(signOnDb.db);
    // Concurrent sign-ons' session and replay writes share one transaction per turn of the event loop.
    const signOnStore = {
      ...signOnRepositories,
      // Its reads share one read transaction per turn (group-commit.ts, read).
      agents: withSnapshotReads(signOnRepositories.agents, ['findByCertificate', 'getByUserName'], signOnDb),
      credentials: withSnapshotReads(signOnRepositories.credentials, ['find'], signOnDb),
      serviceProviders: withSnapshotReads(signOnRepositories.serviceProviders, ['get'], signOnDb),
      tasks: withSnapshotReads(signOnRepositories.tasks, ['get'], signOnDb),
      // A sign-on's session, learning and audit entry are one write; every write of the turn shares one commit.
      issuance: durableAfterIssue(withBatchedWrites(signOnRepositories.issuance, ['issue'], signOnDb), signOnDb.durable),
      replay: withBatchedWrites(signOnRepositories.replay, ['checkAndStore'], signOnDb),
      // The audit log's own per-turn batch (refusals) joins the same transaction: one commit per turn, not two.
      audit: withBatchedWrites(signOnRepositories.audit, ['append'], signOnDb),
    };
    const signOnAuditLog = chainedAuditLog({ store: signOnStore.audit, clock, logger });
    const signOnAudit = durableAfterRecord(countingAuditLog(signOnAuditLog, metrics), signOnDb.durable);
    // Compile the OASIS schemas now, not on the first inbound message (~0.2 s).
    prepareSchemaValidation();
    const keys = await loadOrCreateIdpKeys({
      keys: store.keys,
      kek,
      clock,
      tlsNames: tlsNamesFor(config),
      retireAfterSeconds: config.keys.retireAfterSeconds,
      onTransition: (transition) => auditKeyTransition(audit, transition),
    });
    const auditCheckpoints = new AuditCheckpointer({
      store: store.audit,
      signingKey: () => keys.signing,
      clock,
      logger,
      schedule: { intervalSeconds: config.audit.checkpointIntervalSeconds, everyEntries: config.audit.checkpointEveryEntries },
    });
    auditLog.onAppended((head) => auditCheckpoints.noteHead(head.seq));
    // Every process may send: deliveries are claimed with a lease, so two senders never race for one.
    const logoutFanOut = new LogoutFanOut({
      outbox: store.logoutOutbox,
      serviceProviders: store.serviceProviders,
      keys,
      entityId: config.entityId,
      clock,
      logger,
      audit,
      extraCaCertificates: options.trustedCaCertificates ?? [],
    });
    signOnAuditLog.onAppended((head) => auditCheckpoints.noteHead(head.seq));
    // Policy and risk (issue 7): the sign-on path reads baselines in its turn's snapshot and learns
    // them in its batch (issuance). The policy's own rare writes, a hold with its revocations and
    // approvals, are not batched: they commit on the main connection, synced, by themselves.
    const signOnRisk: RiskRepository = {
      load: (agentId, groupIds, spEntityId) => signOnDb.read(() => signOnRepositories.risk.load(agentId, groupIds, spEntityId)),
      learn: (agentId, event, rolesToTell, spEntityId) => store.risk.learn(agentId, event, rolesToTell, spEntityId),
      storeBaseline: (agentId, baseline, at) => store.risk.storeBaseline(agentId, baseline, at),
      revokeAgent: (agentId, at, reason) => store.risk.revokeAgent(agentId, at, reason),
    };
    const alertDispatcher = new AlertDispatcher({
      outbox: store.alertOutbox,
      clock,
      logger,
      audit,
      extraCaCertificates: options.trustedCaCertificates ?? [],
    });
    const alerts = new WebhookAlerts({
      config: config.alerts,
      outbox: store.alertOutbox,
      keys,
      issuer: config.entityId,
      clock,
      onQueued: () => alertDispatcher.wake(),
    });
    const signOnPolicy = new PolicyEnforcer({
      policy: config.policy,
      risk: signOnRisk,
      approvals: store.approvals,
      audit: signOnAudit,
      logger,
      alerts,
      onLogoutsQueued: () => logoutFanOut.wake(),
    });
    const taskPolicy = new PolicyEnforcer({
      policy: config.policy,
      risk: store.risk,
      approvals: store.approvals,
      audit,
      logger,
      alerts,
      onLogoutsQueued: () => logoutFanOut.wake(),
    });
    const sweeper = new SessionSweeper({
      lifecycle: store.lifecycle,
      credentials: store.credentials,
      agents: store.agents,
      policy: config.cleanup,
      clock,
      logger,
      audit,
      batchSize: config.sessions.sweepBatchSize,
      // Durable back-channel LogoutRequests to the SPs of every session the policy revoked.
      onSessionsRevoked: async (sessions, reason) => {
        await logoutFanOut.enqueue(sessions, reason);
      },
      deliveries: { outbox: store.logoutOutbox, retentionSeconds: LOGOUT_DELIVERY_RETENTION_SECONDS },
    });
    const maintainKeys = async (): Promise<void> => {
      // Workers only re-read the key table; the primary (or a lone process) rotates.
      const published = !runsSingletonJobs ? undefined : await rotateIfDue({
        keys: store.keys,
        kek,
        now: clock.now(),
        overlapSeconds: config.keys.rolloverOverlapSeconds,
        intervalSeconds: config.keys.rotationIntervalSeconds,
      });
      if (published) {
        await audit.record({
          event: 'key.rotated',
          actor: 'system',
          details: { keyId: published.key.id, activatesAt: published.key.activatesAt?.toISOString(), schedule: 'automatic' },
        });
      }
      await keys.refresh();
    };
    const authenticateOrchestrator = orchestratorAuthentication(store.tokens);
    const samlDeps = {
      config,
      clock,
      logger,
      keys,
      serviceProviders: signOnStore.serviceProviders,
      replay: signOnStore.replay,
      tasks: signOnStore.tasks,
      issuance: signOnStore.issuance,
      audit: signOnAudit,
      policy: signOnPolicy,
      authenticateAgent: createAgentAuthenticator({
        agents: signOnStore.agents,
        replay: signOnStore.replay,
        clock,
        jwt: { audience: config.entityId, ...config.agentJwt },
        credentials: { repository: signOnStore.credentials, maxAgeSeconds: config.credentials.maxAgeSeconds },
      }),
      views: new Views(),
      logout: { outbox: store.logoutOutbox, onLogoutsQueued: () => logoutFanOut.wake() },
    };
    // One set of sign-on handlers: Express mounts them, and the listener serves them directly.
    const signOnHandlers = signOnEndpoints(samlDeps);
    const app = createApp(
      {
        saml: samlRouter({ ...samlDeps, endpoints: signOnHandlers }),
        scim: scimRouter({
          agents: store.agents,
          groups: store.groups,
          onAgentEnded: () => logoutFanOut.wake(),
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
          revocations: store.logoutOutbox,
          onTaskEnded: () => logoutFanOut.wake(),
          policy: taskPolicy,
          approvals: store.approvals,
        }),
        health: async () => ({ entityId: config.entityId }),
        metrics: options.role === 'worker' ? workerExposition(metrics.registry) : processExposition(metrics.registry),
      },
      logger,
      metrics,
    );
    // The sign-on endpoints agents call are served without Express (http/direct-routes.ts).
    const requestListener = withDirectRoutes(
      app,
      [
        { method: 'GET', path: '/saml/sso/initiate', handler: signOnHandlers.initiate },
        { method: 'GET', path: '/saml/sso', handler: signOnHandlers.redirect },
      ],
      { logger, metrics },
    );
    const purge = setInterval(() => {
      if (!runsSingletonJobs) return;
      store.replay.purgeExpired(clock.now(), REPLAY_PURGE_BATCH).catch((error: unknown) => {
        logger.error('replay.purge_failed', { error: String(error) });
      });
    }, REPLAY_PURGE_INTERVAL_MS);
    purge.unref();
    // Without its thread the WAL would grow without bound (the sign-on connection never checkpoints
    // on its own): should the thread end unasked, checkpoints go on from this event loop instead.
    let fallbackCheckpoints: NodeJS.Timeout | undefined;
    const walCheckpoints = runsSingletonJobs
      ? startCheckpointThread({
          dataDir: config.dataDir,
          intervalMs: WAL_CHECKPOINT_INTERVAL_MS,
          onError: (message) => logger.error('store.checkpoint_failed', { error: message }),
          onUnexpectedExit: () => {
            logger.error('store.checkpoint_thread_ended', { fallback: 'event loop' });
            fallbackCheckpoints = setInterval(() => {
              try {
                signOnDb.checkpoint();
              } catch (error) {
                logger.error('store.checkpoint_failed', { error: String(error) });
              }
            }, WAL_CHECKPOINT_INTERVAL_MS);
            fallbackCheckpoints.unref();
          },
        })
      : undefined;
    if (runsSingletonJobs) sweeper.start(config.sessions.sweepIntervalSeconds);
    // Deliveries left pending by the last run (an SP that was down, a crash) go out now.
    await logoutFanOut.start();
    alertDispatcher.start();
    const background = [
      setInterval(() => {
        maintainKeys().catch((error: unknown) => logger.error('keys.maintenance_failed', { error: String(error) }));
      }, KEY_MAINTENANCE_INTERVAL_MS),
      setInterval(() => {
        auditCheckpoints.tick().catch((error: unknown) => logger.error('audit.checkpoint_failed', { error: String(error) }));
      }, Math.min(config.audit.checkpointIntervalSeconds * 1000, CHECKPOINT_TICK_MAX_MS)),
    ];
    for (const timer of background) timer.unref();
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      clearInterval(fallbackCheckpoints);
      void walCheckpoints?.stop();
      for (const timer of background) clearInterval(timer);
      void sweeper.stop();
      void logoutFanOut.stop();
      void alertDispatcher.stop();
      store.close();
      signOnDb.close();
    };
    return {
      config,
      store,
      keys,
      requestListener,
      logger,
      auditLog,
      auditCheckpoints,
      sweeper,
      logoutFanOut,
      alertDispatcher,
      metrics,
      maintainKeys,
      shutdown: async () => {
        for (const timer of background) clearInterval(timer);
        try {
          await sweeper.stop();
          await logoutFanOut.stop();
          await alertDispatcher.stop();
          await auditLog.flush();
          await signOnAuditLog.flush();
          await auditCheckpoints.checkpoint('shutdown');
          await walCheckpoints?.stop();
        } catch (error) {
          logger.error('server.shutdown_incomplete', { error: String(error) });
        } finally {
          close();
        }
      },
      close,
    };
  } catch (error) {
    store.close();
    signOnDb.close();
    throw error;
  }
}

/** Issuance that resolves only once the commit holding the sign-on's writes is on disk. */
function durableAfterIssue(issuance: IssuanceRepository, durable: () => Promise<void>): IssuanceRepository {
  return {
    async issue(request) {
      const issued = await issuance.issue(request);
      if (issued) await durable();
      return issued;
    },
  };
}

/** An audit log whose record() also waits until the connection's earlier writes are on disk. */
function durableAfterRecord(audit: AuditLog, durable: () => Promise<void>): AuditLog {
  return {
    async record(event) {
      await audit.record(event);
      await durable();
    },
    recorded: (event, entry) => audit.recorded(event, entry),
  };
}

/** A rollover step is a decision: the new key signs from now, the old one leaves metadata later. */
async function auditKeyTransition(audit: AuditLog, transition: KeyTransition): Promise<void> {
  await audit.record({
    event: 'key.activated',
    actor: 'system',
    details: { keyId: transition.activated.id, previousKeyId: transition.retired?.id },
  });
  if (transition.retired) {
    await audit.record({
      event: 'key.retired',
      actor: 'system',
      details: { keyId: transition.retired.id, publishedUntil: transition.retired.publishedUntil?.toISOString() },
    });
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
  /** Stops listening; in-flight requests get up to graceMs (default 0) to finish before connections are cut. */
  close(graceMs?: number): Promise<void>;
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
    idp.requestListener,
  );
  // No renegotiation: a connection's client certificate is read once (agents/peer-certificate.ts),
  // and client-initiated renegotiation is a cheap way to make a server do expensive handshakes.
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.disableRenegotiation();
    // A refused renegotiation surfaces as a socket error: the connection ends here, whatever
    // 'clientError' handling the HTTP server has.
    socket.on('error', () => socket.destroy());
  });
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
    close: (graceMs = 0) =>
      new Promise<void>((resolve) => {
        server.close(() => {
          clearTimeout(cut);
          void idp.shutdown().then(resolve);
        });
        // Idle keep-alive connections go now; busy ones finish their request or are cut at the deadline.
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        cut.unref();
      }),
  };
}
