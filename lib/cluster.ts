import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config/index.js';
import { exitAfterFlush, type Logger } from './common/log.js';
import { serveClusterScrapes } from './http/cluster-metrics.js';
import { createIdp, startIdp, type Idp, type RunningIdp } from './idp.js';

/*
 * `tessera start` on several cores: node:cluster workers share the listening
 * port (the primary hands out connections) and the SQLite file (WAL mode lets
 * them read concurrently; writes are short and serialised by SQLite).
 *
 * The primary opens the data directory before any worker exists, so first-start
 * work (migrations, the key-encryption key file, the signing and TLS keys)
 * happens once, in one process, and the workers only ever load it. It then runs
 * the jobs that must not run once per worker (session sweeper, scheduled key
 * rotation, audit checkpoints, replay purge) and serves no HTTP itself.
 */

const RESPAWN_MIN_MS = 1_000;
const RESPAWN_MAX_MS = 30_000;
/** A worker that lived this long before dying restarts without backoff. */
const STABLE_AFTER_MS = 60_000;
/** How long a worker may take to finish its in-flight requests on SIGTERM. */
export const DRAIN_GRACE_MS = 10_000;
/** How long a stopping server waits for its log reader to take the last lines. */
export const LOG_FLUSH_GRACE_MS = 5_000;

export interface Supervisor {
  /** The primary's own IdP: background jobs, no listener. */
  readonly idp: Idp;
  /** Stops the workers (draining their requests), then the background jobs. */
  stop(): Promise<void>;
}

/**
 * Starts the primary and its workers; resolves once every worker listens.
 * Rejects (after stopping whatever started) if a worker dies before listening,
 * e.g. because the port is taken.
 */
export async function startPrimary(config: Config, logger: Logger): Promise<Supervisor> {
  const idp = await createIdp({ config, logger, role: 'primary' });
  // A scrape reaches one worker; it asks here for every process's metrics.
  serveClusterScrapes(idp.metrics.registry);
  const workers = new Map<Worker, { startedAt: number; listening: boolean }>();
  let stopping = false;
  let backoff = RESPAWN_MIN_MS;
  let settle: { resolve(): void; reject(error: Error): void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const fork = (): void => {
    const worker = cluster.fork();
    workers.set(worker, { startedAt: Date.now(), listening: false });
    worker.once('listening', () => {
      const state = workers.get(worker);
      if (state) state.listening = true;
      if (settle && [...workers.values()].filter((w) => w.listening).length === config.http.workers) {
        settle.resolve();
        settle = undefined;
      }
    });
    worker.once('exit', (code, signal) => {
      const state = workers.get(worker);
      workers.delete(worker);
      if (stopping) return;
      logger.error('worker.exited', { worker: worker.id, code, signal });
      if (settle && !state?.listening) {
        settle.reject(new Error(`a server worker exited (code ${String(code)}) before it listened; see its error above`));
        settle = undefined;
        return;
      }
      const lived = Date.now() - (state?.startedAt ?? Date.now());
      backoff = lived > STABLE_AFTER_MS ? RESPAWN_MIN_MS : Math.min(backoff * 2, RESPAWN_MAX_MS);
      setTimeout(() => {
        if (!stopping) fork();
      }, backoff).unref();
    });
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      [...workers.keys()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const kill = setTimeout(() => worker.process.kill('SIGKILL'), DRAIN_GRACE_MS + LOG_FLUSH_GRACE_MS + 2_000);
            worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    await idp.shutdown();
  };

  for (let i = 0; i < config.http.workers; i++) fork();
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  logger.info('cluster.ready', { workers: config.http.workers });
  return { idp, stop };
}

/** A worker: serves HTTPS on the shared port until SIGTERM, SIGINT or the primary's death. */
export async function startWorker(config: Config, logger: Logger): Promise<RunningIdp> {
  const running = await startIdp({ config, logger, role: 'worker' });
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    running.idp.logger.info('worker.stopping', { reason });
    void running.close(DRAIN_GRACE_MS).finally(() => exitAfterFlush(0, LOG_FLUSH_GRACE_MS));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('disconnect', () => stop('primary gone'));
  return running;
}
