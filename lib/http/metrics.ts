import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent, AuditLog } from '../audit/index.js';

/** Paths grouped so that label cardinality stays fixed whatever clients send. */
const ROUTES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/saml\/sso\/initiate$/, '/saml/sso/initiate'],
  [/^\/saml\/sso$/, '/saml/sso'],
  [/^\/saml\/slo$/, '/saml/slo'],
  [/^\/saml\/metadata$/, '/saml/metadata'],
  [/^\/scim\/v2\/Users(\/|$)/, '/scim/v2/Users'],
  [/^\/scim\/v2\/Groups(\/|$)/, '/scim/v2/Groups'],
  [/^\/scim\/v2\//, '/scim/v2/other'],
  [/^\/api\/v1\/tasks(\/|$)/, '/api/v1/tasks'],
  [/^\/healthz$/, '/healthz'],
  [/^\/metrics$/, '/metrics'],
];

export function routeLabel(path: string): string {
  return ROUTES.find(([pattern]) => pattern.test(path))?.[1] ?? 'other';
}

/** Prometheus metrics for one process: its own registry, never the global one. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'route'>;
  private readonly decisions: Counter<'event' | 'reason'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
    this.requests = new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.decisions = new Counter({
      name: 'tessera_decisions_total',
      help: 'Audited decisions (sign-ons issued and denied, tasks, provisioning), with the refusal reason',
      labelNames: ['event', 'reason'],
      registers: [this.registry],
    });
  }

  observeRequest(method: string, path: string, status: number, seconds: number): void {
    const route = routeLabel(path);
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ route }, seconds);
  }

  observeDecision(event: AuditEvent): void {
    this.decisions.inc({ event: event.event, reason: event.reason ?? '' });
  }
}

/** Counts every audited decision once it is recorded. */
export function countingAuditLog(inner: AuditLog, metrics: Metrics): AuditLog {
  return {
    async record(event: AuditEvent): Promise<void> {
      await inner.record(event);
      metrics.observeDecision(event);
    },
    recorded(event, entry): void {
      inner.recorded(event, entry);
      metrics.observeDecision(event);
    },
  };
}
