/**
 * Delivers queued security events to their webhooks (RFC 8935 push: POST of the
 * signed SET as application/secevent+jwt; any 2xx is an acknowledgement), in
 * parallel, retrying with exponential backoff capped at 30 s, resuming at start-up
 * what an earlier run left pending, and giving up (audited) after a day.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Clock } from '../common/clock.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { AuditLog } from '../audit/index.js';
import type { AlertDelivery, AlertOutbox } from './alert-outbox.js';

export interface AlertDispatcherDeps {
  readonly outbox: AlertOutbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
  /** CAs trusted for webhooks' TLS beside Node's store. */
  readonly extraCaCertificates?: readonly string[];
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

const DEFAULT_BACKOFF = { baseMs: 1_000, maxMs: 30_000 };
const GIVE_UP_AFTER_MS = 24 * 3_600_000;
const BATCH = 16;
const LEASE_MS = 60_000;
const TIMEOUT_MS = 5_000;

export class AlertDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly backoff: { readonly baseMs: number; readonly maxMs: number };

  constructor(private readonly deps: AlertDispatcherDeps) {
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.drain()
      .catch((error: unknown) => this.deps.logger.error('alert.dispatch_failed', { error: errorMessage(error) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        } else {
          void this.schedule();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const now = this.deps.clock.now();
      const due = await this.deps.outbox.claimDue(now, BATCH, new Date(now.getTime() + LEASE_MS));
      if (due.length === 0 || this.stopped) return;
      await Promise.all(due.map((delivery) => this.deliver(delivery)));
    }
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.outbox.nextDueAt();
    if (next === undefined || this.stopped) return;
    const delay = Math.min(Math.max(next.getTime() - this.deps.clock.now().getTime(), 0), this.backoff.maxMs);
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  private async deliver(delivery: AlertDelivery): Promise<void> {
    try {
      await post(delivery.webhook, delivery.payload, this.deps.extraCaCertificates ?? []);
      await this.deps.outbox.markDelivered(delivery.id, this.deps.clock.now());
    } catch (error) {
      const now = this.deps.clock.now();
      const attempts = delivery.attempts + 1;
      const message = errorMessage(error);
      if (now.getTime() - delivery.createdAt.getTime() >= GIVE_UP_AFTER_MS) {
        await this.deps.outbox.markAbandoned(delivery.id, now, message);
        await this.deps.audit.record({
          event: 'alert.failed',
          actor: 'system',
          reason: 'alert_undeliverable',
          details: { eventId: delivery.eventId, webhook: delivery.webhook, kind: delivery.kind, attempts, lastError: message },
        });
        return;
      }
      const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(attempts - 1, 20));
      await this.deps.outbox.markFailed(delivery.id, attempts, new Date(now.getTime() + delay), message);
      this.deps.logger.warn('alert.attempt_failed', { webhook: delivery.webhook, eventId: delivery.eventId, attempts, retryInMs: delay, error: message });
    }
  }
}

function post(url: string, jwt: string, extraCa: readonly string[]): Promise<void> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json', 'content-length': Buffer.byteLength(jwt) },
        timeout: TIMEOUT_MS,
        ...(target.protocol === 'https:' && extraCa.length > 0 ? { ca: [...rootCertificates, ...extraCa] } : {}),
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`webhook answered HTTP ${status}`));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('webhook timed out')));
    outgoing.on('error', reject);
    outgoing.end(jwt);
  });
}
