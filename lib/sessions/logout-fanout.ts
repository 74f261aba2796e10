/**
 * The logout fan-out: delivers the outbox's LogoutRequests to every SP that publishes a
 * SOAP SingleLogoutService, in parallel, retrying with exponential backoff capped at
 * 30 s, and resuming what is pending when the IdP starts. Revocations write the outbox
 * rows in their own transaction; this service only sends, and is woken when there is
 * something new (or by its timer when a retry is due).
 *
 * Callers that revoke sessions outside the repositories that queue in-transaction (the
 * lifecycle sweeper, a future policy engine) call enqueue(sessions, reason).
 */
import type { Clock } from '../common/clock.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { AuditLog } from '../audit/index.js';
import type { SigningKey } from '../keys/index.js';
import {
  LOGOUT_REASON,
  sendBackChannelLogout,
  soapLogoutEndpoint,
  type ServiceProvider,
  type ServiceProviderRepository,
  type SoapClientOptions,
  type SpEndpoint,
} from '../saml/index.js';
import type { LogoutDelivery, LogoutOutbox } from './logout-outbox.js';
import type { Session } from './session.js';

export interface LogoutFanOutDeps {
  readonly outbox: LogoutOutbox;
  readonly serviceProviders: ServiceProviderRepository;
  /** The IdP's current signing key (read at each delivery: it may roll over). */
  readonly keys: { readonly signing: SigningKey };
  readonly entityId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
  /** CAs trusted for SPs' TLS on top of Node's store (which already holds NODE_EXTRA_CA_CERTS). */
  readonly extraCaCertificates?: readonly string[];
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

const DEFAULT_BACKOFF = { baseMs: 1_000, maxMs: 30_000 };
/** A delivery nobody could take for a day is given up (and audited): the session it named ended long ago. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
const BATCH = 16;
/** A claimed delivery is not claimed again for this long, so a crash mid-send only delays it. */
const LEASE_MS = 60_000;
const SOAP_TIMEOUT_MS = 5_000;
const MAX_SOAP_ANSWER_BYTES = 256 * 1024;
const NO_ENDPOINT = 'no SOAP SingleLogoutService';
const NOT_REGISTERED = 'SP no longer registered';

/**
 * Where a delivery to this SP goes, or why it has nothing to send:
 * an SP without a SOAP SingleLogoutService (or no longer registered) is ended by its own session lifetime.
 */
function logoutTarget(sp: ServiceProvider | undefined): { readonly endpoint: SpEndpoint } | { readonly skip: string } {
  if (!sp) return { skip: NOT_REGISTERED };
  const endpoint = soapLogoutEndpoint(sp);
  return endpoint ? { endpoint } : { skip: NO_ENDPOINT };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class LogoutFanOut {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  private readonly client: SoapClientOptions;

  constructor(private readonly deps: LogoutFanOutDeps) {
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.client = { extraCaCertificates: deps.extraCaCertificates ?? [], timeoutMs: SOAP_TIMEOUT_MS, maxResponseBytes: MAX_SOAP_ANSWER_BYTES };
  }

  /** Resumes every pending delivery now (an SP that came back while we were down gets it at once). */
  async start(): Promise<void> {
    this.stopped = false;
    const resumed = await this.deps.outbox.resumePending(this.deps.clock.now());
    if (resumed > 0) this.deps.logger.info('logout.resumed', { pending: resumed });
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Queues logouts for sessions revoked elsewhere, then sends them. */
  async enqueue(sessions: readonly Session[], reason: string): Promise<number> {
    const queued = await this.deps.outbox.enqueue(sessions, reason, this.deps.clock.now());
    if (queued > 0) this.wake();
    return queued;
  }

  /**
   * Sends whatever is due, from the next turn of the event loop: a revocation commits,
   * wakes the sender and answers its caller, and that answer is written before the
   * first delivery is claimed.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = nextTurn()
      .then(() => this.drain())
      .catch((error: unknown) => this.deps.logger.error('logout.fanout_failed', { error: errorMessage(error) }))
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
    if (this.stopped) return;
    await this.skipWithoutEndpoint(this.deps.clock.now());
    for (;;) {
      const now = this.deps.clock.now();
      const due = await this.deps.outbox.claimDue(now, BATCH, new Date(now.getTime() + LEASE_MS));
      if (due.length === 0 || this.stopped) return;
      await Promise.all(due.map((delivery) => this.deliver(delivery)));
      // Between batches, requests get their turn: a long backlog never holds the event loop.
      await nextTurn();
    }
  }

  /**
   * An agent with a thousand sessions at an SP that takes no back-channel logout leaves a
   * thousand deliveries with nothing to send: settled per SP in one statement, not one
   * claim and one write each.
   */
  private async skipWithoutEndpoint(now: Date): Promise<void> {
    for (const entityId of await this.deps.outbox.dueServiceProviders(now)) {
      const target = logoutTarget(await this.deps.serviceProviders.get(entityId));
      if (!('skip' in target)) continue;
      const skipped = await this.deps.outbox.skipDue(entityId, now, target.skip);
      if (skipped > 0) this.deps.logger.info('logout.skipped', { spEntityId: entityId, deliveries: skipped, detail: target.skip });
    }
  }

  /** Sleeps until the next retry is due (never longer than the backoff cap, so a moved clock is noticed). */
  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.outbox.nextDueAt();
    if (next === undefined || this.stopped) return;
    const delay = Math.min(Math.max(next.getTime() - this.deps.clock.now().getTime(), 0), this.backoff.maxMs);
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  private async deliver(delivery: LogoutDelivery): Promise<void> {
    const now = this.deps.clock.now();
    const sp = await this.deps.serviceProviders.get(delivery.spEntityId);
    const target = logoutTarget(sp);
    if ('skip' in target) {
      await this.deps.outbox.markFinished(delivery.id, 'skipped', now, target.skip);
      return;
    }
    const { endpoint } = target;
    try {
      const outcome = await sendBackChannelLogout(
        endpoint,
        {
          issuer: this.deps.entityId,
          nameId: delivery.nameId,
          nameIdFormat: delivery.nameIdFormat,
          sessionIndex: delivery.sessionIndex,
          reason: delivery.reason === 'sp_logout' ? LOGOUT_REASON.user : LOGOUT_REASON.admin,
          now,
        },
        this.deps.keys.signing,
        this.client,
      );
      const finishedAt = this.deps.clock.now();
      await this.deps.outbox.markFinished(delivery.id, 'delivered', finishedAt, outcome.status);
      await this.deps.audit.record({
        event: 'logout.sent',
        actor: 'system',
        agentId: delivery.agentId,
        taskId: delivery.taskId,
        spEntityId: delivery.spEntityId,
        sessionId: delivery.sessionId,
        details: {
          requestId: outcome.requestId,
          endpoint: outcome.endpoint,
          status: outcome.status,
          secondStatus: outcome.secondStatus,
          reason: delivery.reason,
          attempts: delivery.attempts + 1,
          queuedForMs: finishedAt.getTime() - delivery.createdAt.getTime(),
        },
      });
    } catch (error) {
      await this.failed(delivery, errorMessage(error));
    }
  }

  private async failed(delivery: LogoutDelivery, message: string): Promise<void> {
    const now = this.deps.clock.now();
    const attempts = delivery.attempts + 1;
    if (now.getTime() - delivery.createdAt.getTime() >= GIVE_UP_AFTER_MS) {
      await this.deps.outbox.markFinished(delivery.id, 'abandoned', now, message);
      await this.deps.audit.record({
        event: 'logout.failed',
        actor: 'system',
        agentId: delivery.agentId,
        taskId: delivery.taskId,
        spEntityId: delivery.spEntityId,
        sessionId: delivery.sessionId,
        reason: 'logout_undeliverable',
        details: { attempts, lastError: message, reason: delivery.reason },
      });
      return;
    }
    const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(attempts - 1, 20));
    await this.deps.outbox.markFailed(delivery.id, attempts, new Date(now.getTime() + delay), message);
    this.deps.logger.warn('logout.attempt_failed', { spEntityId: delivery.spEntityId, sessionId: delivery.sessionId, attempts, retryInMs: delay, error: message });
  }
}
