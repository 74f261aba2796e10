import { Registry } from 'prom-client';
import { workerExposition } from '../../lib/http/cluster-metrics.js';

/*
 * A stand-in cluster worker for cluster-metrics.spec.ts, run with an IPC
 * channel to the spec: it scrapes once and reports how that went.
 */
const exposition = workerExposition(new Registry(), Number(process.env.SCRAPE_TIMEOUT_MS));
exposition.text().then(
  (text) => process.send?.({ outcome: 'served', text }),
  (error: unknown) => process.send?.({ outcome: 'failed', code: (error as { code?: unknown }).code, message: String(error) }),
);
