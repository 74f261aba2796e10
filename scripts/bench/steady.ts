import type { ClientRequest } from 'node:http';
import { Agent, request } from 'node:https';
import type { LoadRequest, LoadResult } from './load.js';
import { percentiles } from './percentiles.js';

/*
 * Latency at a held rate. autocannon's rate limit lets each connection send
 * its quota back to back at the start of every second, so a "1,000/s" run is
 * a burst of 1,000 requests each second: it measures how long a burst takes
 * to drain, not latency at a rate. This generator is open-loop instead: the
 * i-th request is due at start + i / rate, whatever happened to the ones
 * before, and its latency counts from when it was due (so a server that falls
 * behind is charged for the wait too: no coordinated omission).
 *
 * Every connection is opened (TCP, TLS, the client certificate) before the
 * clock starts, and requests go out on them in turn (FIFO), as wrk2 does. A
 * generator that opened connections as the run went charged its own mTLS
 * handshakes to the first requests (p99 at 1,000/s: 176 ms with them, 67-84 ms
 * without, ad hoc, two workers); and Node's default LIFO pick sends an
 * unsaturated rate down the one or two most recent sockets, so behind a
 * cluster the load lands on whichever worker holds them.
 */

/** How long, after the last request was due, answers are still waited for (unless the spec says). */
const DRAIN_SECONDS = 10;

export interface SteadySpec {
  readonly name: string;
  readonly port: number;
  readonly caPem: string;
  /** Keep-alive connections available; requests due while all are busy wait for one, on the clock. */
  readonly connections: number;
  readonly rate: number;
  readonly durationSeconds: number;
  readonly clientCertificate?: { readonly certPem: string; readonly keyPem: string };
  readonly next: () => LoadRequest;
  readonly progress?: (line: string) => void;
  readonly drainSeconds?: number;
  /** Path each connection is opened with before the clock starts: something cheap, no sign-on. Default /healthz. */
  readonly connectPath?: string;
}

/** How long opening the connections may take before the run is given up. */
const CONNECT_TIMEOUT_MS = 30_000;

export async function runSteady(spec: SteadySpec): Promise<LoadResult> {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: spec.connections,
    scheduling: 'fifo',
    ca: spec.caPem,
    servername: 'localhost',
    ...(spec.clientCertificate ? { cert: spec.clientCertificate.certPem, key: spec.clientCertificate.keyPem } : {}),
  });
  const latencies: number[] = [];
  /** How late the generator itself was to send each request (its timer, its event loop, its share of the CPUs). */
  const sendLags: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let abandoned = 0;
  await openConnections(agent, spec);
  const total = Math.round(spec.rate * spec.durationSeconds);
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  /** Requests sent and not answered yet, with when each was due. */
  const inFlight = new Map<ClientRequest, number>();

  const send = (due: number): Promise<void> =>
    new Promise((resolve) => {
      sendLags.push(performance.now() - due);
      const next = spec.next();
      const req = request(
        { host: '127.0.0.1', servername: 'localhost', port: spec.port, path: next.path, headers: next.headers, agent, timeout: 30_000 },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (!inFlight.delete(req)) return resolve();
            const code = String(res.statusCode ?? 0);
            statusCodes[code] = (statusCodes[code] ?? 0) + 1;
            if (code.startsWith('2')) latencies.push(performance.now() - due);
            resolve();
          });
        },
      );
      inFlight.set(req, due);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => {
        if (inFlight.delete(req)) {
          if (error.message === 'timeout') timeouts += 1;
          else errors += 1;
        }
        resolve();
      });
      req.end();
    });

  let sent = 0;
  let lastReport = start;
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + (sent * 1000) / spec.rate <= now) {
      pending.push(send(start + (sent * 1000) / spec.rate));
      sent += 1;
    }
    if (spec.progress && now - lastReport >= 5_000) {
      lastReport = now;
      spec.progress(`${spec.name}: ${Math.round((now - start) / 1000)}/${spec.durationSeconds} s, ${sent.toLocaleString('en-US')} sent`);
    }
    const nextDue = start + (sent * 1000) / spec.rate;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(1, nextDue - performance.now()))));
  }
  // A server that fell far behind would keep the run going for as long as its backlog lasts: after
  // the drain time what is still unanswered is abandoned, counted as timed out, and enters the
  // percentiles with the time it had waited so far (a lower bound), so it still weighs on p99.
  const drained = Promise.all(pending);
  const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), (spec.drainSeconds ?? DRAIN_SECONDS) * 1000).unref());
  if ((await Promise.race([drained, deadline])) === 'late') {
    const abandonedAt = performance.now();
    for (const [req, due] of [...inFlight]) {
      inFlight.delete(req);
      latencies.push(abandonedAt - due);
      abandoned += 1;
      timeouts += 1;
      req.destroy();
    }
    await drained;
  }
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();

  const completed = latencies.length - abandoned;
  const non2xx = Object.entries(statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
  return {
    name: spec.name,
    durationSeconds: elapsed,
    connections: spec.connections,
    completed,
    rps: completed / elapsed,
    latencyMs: percentiles(latencies),
    generatorLagMs: percentiles(sendLags),
    non2xx,
    errors,
    timeouts,
    statusCodes,
  };
}

/** As many requests at once as there are connections: the agent opens one socket for each and keeps them. */
async function openConnections(agent: Agent, spec: SteadySpec): Promise<void> {
  const path = spec.connectPath ?? '/healthz';
  const headers = { accept: 'application/json' };
  await Promise.all(
    Array.from(
      { length: spec.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', servername: 'localhost', port: spec.port, path, headers, agent, timeout: CONNECT_TIMEOUT_MS }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${spec.name}: opening connections, GET ${path} answered ${res.statusCode}`))));
          });
          req.on('timeout', () => req.destroy(new Error(`${spec.name}: opening connections, GET ${path} timed out`)));
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  // The agent files a socket as free once the answer's end has been handled.
  await new Promise((resolve) => setImmediate(resolve));
  const open = Object.values(agent.freeSockets).reduce((sum, sockets) => sum + (sockets?.length ?? 0), 0);
  if (open !== spec.connections) throw new Error(`${spec.name}: ${open} of ${spec.connections} connections stayed open`);
}
