import autocannon, { type AutocannonRequest } from 'autocannon';
import type { Percentiles } from './percentiles.js';

/*
 * One load run: autocannon over HTTPS with keep-alive connections (the TLS
 * handshake happens once per connection), from this process, on the same
 * two cores as the server. Latency percentiles come from autocannon's HDR
 * histogram of 2xx responses, in whole milliseconds; with a fixed rate it
 * corrects for coordinated omission.
 */

export interface LoadRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface LoadSpec {
  readonly name: string;
  readonly port: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Requests per second across all connections; omitted = as fast as the server answers. */
  readonly overallRate?: number;
  /** A TLS client certificate on every connection (mTLS agents). */
  readonly clientCertificate?: { readonly certPem: string; readonly keyPem: string };
  /** The next request to send: called once per request. */
  readonly next: () => LoadRequest;
  readonly progress?: (line: string) => void;
}

export interface LoadResult {
  readonly name: string;
  readonly durationSeconds: number;
  readonly connections: number;
  readonly completed: number;
  /** Responses with a 2xx status per second. */
  readonly rps: number;
  readonly latencyMs: Percentiles;
  /** Open-loop runs only: how late the generator itself sent each request after it was due (part of latencyMs). */
  readonly generatorLagMs?: Percentiles;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const request: AutocannonRequest = {
      method: 'GET',
      setupRequest: (req) => {
        const next = spec.next();
        return { ...req, path: next.path, headers: { ...next.headers } };
      },
    };
    let second = 0;
    const instance = autocannon(
      {
        url: `https://127.0.0.1:${spec.port}`,
        servername: 'localhost',
        connections: spec.connections,
        duration: spec.durationSeconds,
        timeout: 30,
        requests: [request],
        ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
        ...(spec.clientCertificate ? { tlsOptions: { cert: spec.clientCertificate.certPem, key: spec.clientCertificate.keyPem } } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const statusCodes: Record<string, number> = {};
        for (const [code, stats] of Object.entries(result.statusCodeStats)) statusCodes[code] = stats.count;
        resolve({
          name: spec.name,
          durationSeconds: result.duration,
          connections: spec.connections,
          completed: result['2xx'],
          rps: result['2xx'] / result.duration,
          latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
        });
      },
    );
    instance.on('tick', (tick: { counter: number }) => {
      second += 1;
      if (spec.progress && (second % 5 === 0 || second === spec.durationSeconds)) {
        spec.progress(`${spec.name}: ${second}/${spec.durationSeconds} s, ${tick.counter.toLocaleString('en-US')} responses in the last second`);
      }
    });
  });
}
