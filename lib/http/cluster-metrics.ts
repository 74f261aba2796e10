import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { TesseraError } from '../common/errors.js';

/*
 * One /metrics for the whole cluster. Every worker (and the primary, which
 * runs the background jobs) counts into a registry of its own, and a scrape
 * lands on whichever worker the primary handed the connection to. Answered
 * from that worker's registry alone, a scrape would see a fraction of the
 * traffic, and counters would jump between workers' values from scrape to
 * scrape, which Prometheus reads as resets.
 *
 * So the worker that receives a scrape asks the primary, which collects every
 * live worker's registry and its own and merges them with prom-client's
 * aggregation (counters and histograms summed by label set, process gauges
 * by each metric's own aggregator). A scrape fails (503) rather than answer
 * with a worker left out: a partial sum would look like a counter reset.
 */

/** Worker → primary: a scrape to answer. */
const SCRAPE_REQUEST = 'tessera:metrics:scrape';
/** Primary → worker: the merged exposition, or why there is none. */
const SCRAPE_ANSWER = 'tessera:metrics:scraped';
/** Primary → worker: send your registry. */
const COLLECT_REQUEST = 'tessera:metrics:collect';
/** Worker → primary: one registry's metrics as JSON. */
const COLLECT_ANSWER = 'tessera:metrics:collected';

/** How long a scrape waits for the cluster: less than Prometheus' default scrape timeout (10 s). */
const CLUSTER_SCRAPE_TIMEOUT_MS = 3_000;

type RegistryJson = MetricObjectWithValues<MetricValue<string>>[];

interface ScrapeRequest {
  readonly type: typeof SCRAPE_REQUEST;
  readonly id: number;
}
interface ScrapeAnswer {
  readonly type: typeof SCRAPE_ANSWER;
  readonly id: number;
  readonly exposition?: string;
  readonly error?: string;
}
interface CollectRequest {
  readonly type: typeof COLLECT_REQUEST;
  readonly id: number;
}
interface CollectAnswer {
  readonly type: typeof COLLECT_ANSWER;
  readonly id: number;
  readonly metrics?: RegistryJson;
  readonly error?: string;
}

function isMessage<T extends { readonly type: string; readonly id: number }>(message: unknown, type: T['type']): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === type &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}

function metricsUnavailable(reason: string): TesseraError {
  return new TesseraError('metrics_unavailable', 'the cluster metrics could not be collected', { internalDetail: reason });
}

/** The Prometheus exposition served at /metrics. */
export interface MetricsExposition {
  readonly contentType: string;
  text(): Promise<string>;
}

/** A lone process: its own registry is the whole story. */
export function processExposition(registry: Registry): MetricsExposition {
  return { contentType: registry.contentType, text: () => registry.metrics() };
}

/**
 * In a cluster worker: answers the primary's collections with this worker's
 * registry, and serves scrapes with the cluster's merged metrics.
 */
export function workerExposition(registry: Registry, timeoutMs: number = CLUSTER_SCRAPE_TIMEOUT_MS): MetricsExposition {
  if (!process.send) throw new Error('workerExposition needs an IPC channel to the cluster primary');
  // With a callback, a send over a closed channel reports to it instead of emitting 'error' on the process.
  const send = (message: CollectAnswer | ScrapeRequest, onError: (error: Error) => void = () => undefined): void => {
    process.send?.(message, undefined, undefined, (error: Error | null) => {
      if (error) onError(error);
    });
  };
  const pending = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage<CollectRequest>(message, COLLECT_REQUEST)) {
      registry.getMetricsAsJSON().then(
        (metrics) => send({ type: COLLECT_ANSWER, id: message.id, metrics } satisfies CollectAnswer),
        (error: unknown) => send({ type: COLLECT_ANSWER, id: message.id, error: String(error) } satisfies CollectAnswer),
      );
    } else if (isMessage<ScrapeAnswer>(message, SCRAPE_ANSWER)) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.exposition !== undefined) waiter?.resolve(message.exposition);
      else waiter?.reject(metricsUnavailable(message.error ?? 'the primary sent no metrics'));
    }
  });
  return {
    contentType: registry.contentType,
    text: () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(metricsUnavailable(`the primary did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (text) => {
            clearTimeout(timer);
            resolve(text);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        send({ type: SCRAPE_REQUEST, id } satisfies ScrapeRequest, (error) => {
          pending.get(id)?.reject(metricsUnavailable(`cannot reach the primary: ${String(error)}`));
          pending.delete(id);
        });
      }),
  };
}

/**
 * In the cluster primary: answers workers' scrapes with every live worker's
 * registry merged with the primary's own.
 */
export function serveClusterScrapes(primaryRegistry: Registry, timeoutMs: number = CLUSTER_SCRAPE_TIMEOUT_MS): void {
  interface Collection {
    /** Workers asked and not yet answered; the primary's own registry counts as one more answer. */
    readonly awaiting: Set<Worker>;
    ownCollected: boolean;
    readonly collected: RegistryJson[];
    settle(error?: string): void;
  }
  const collections = new Map<number, Collection>();
  let nextId = 0;
  const settleIfComplete = (collection: Collection): void => {
    if (collection.ownCollected && collection.awaiting.size === 0) collection.settle();
  };

  const collect = (): Promise<RegistryJson[]> =>
    new Promise<RegistryJson[]>((resolve, reject) => {
      const id = nextId++;
      const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected());
      // A worker that dies mid-collection will never answer: say so now rather than at the timeout.
      const onExit = (worker: Worker): void => {
        if (collection.awaiting.has(worker)) collection.settle(`worker ${worker.id} exited during the collection`);
      };
      const timer = setTimeout(() => collection.settle(`${collection.awaiting.size} worker(s) did not answer within ${timeoutMs} ms`), timeoutMs);
      const collection: Collection = {
        awaiting: new Set(workers),
        ownCollected: false,
        collected: [],
        settle: (error?: string) => {
          clearTimeout(timer);
          collections.delete(id);
          cluster.off('exit', onExit);
          if (error === undefined) resolve(collection.collected);
          else reject(new Error(error));
        },
      };
      cluster.on('exit', onExit);
      collections.set(id, collection);
      for (const worker of workers) {
        // With a callback, a worker whose channel just closed fails this collection instead of emitting 'error'.
        worker.send({ type: COLLECT_REQUEST, id } satisfies CollectRequest, undefined, undefined, (error: Error | null) => {
          if (error) collection.settle(`worker ${worker.id}: ${error.message}`);
        });
      }
      primaryRegistry.getMetricsAsJSON().then(
        (own) => {
          collection.collected.push(own as RegistryJson);
          collection.ownCollected = true;
          settleIfComplete(collection);
        },
        (error: unknown) => collection.settle(`the primary's registry: ${String(error)}`),
      );
    });

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage<CollectAnswer>(message, COLLECT_ANSWER)) {
      const collection = collections.get(message.id);
      if (!collection || !collection.awaiting.delete(worker)) return;
      if (message.metrics === undefined) return collection.settle(`worker ${worker.id}: ${message.error ?? 'no metrics'}`);
      collection.collected.push(message.metrics);
      settleIfComplete(collection);
    } else if (isMessage<ScrapeRequest>(message, SCRAPE_REQUEST)) {
      collect()
        .then((registries) => AggregatorRegistry.aggregate(registries).metrics())
        .then(
          (exposition): ScrapeAnswer => ({ type: SCRAPE_ANSWER, id: message.id, exposition }),
          (error: unknown): ScrapeAnswer => ({ type: SCRAPE_ANSWER, id: message.id, error: error instanceof Error ? error.message : String(error) }),
        )
        // The asking worker may have gone meanwhile: nobody is left to answer.
        .then((answer) => worker.send(answer, undefined, undefined, () => undefined));
    }
  });
}
