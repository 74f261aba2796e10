import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { CleanupPolicy } from '../config/index.js';
import type { AgentRepository, CredentialRepository } from '../agents/index.js';
import { auditedAgent, type AuditEvent, type AuditLog, type AuditedAgent } from '../audit/index.js';
import type { SessionLifecycleRepository, TaskEndNotice } from './lifecycle-repository.js';
import { SESSION_END_REASON, type Session } from './session.js';
import type { LogoutOutbox } from './logout-outbox.js';

export interface SweepReport {
  /** Sessions whose lifetime passed, now marked ended. */
  readonly expired: number;
  /** Live sessions revoked for inactivity. */
  readonly idleRevoked: number;
  /** Task ends the policy looked at. */
  readonly taskEnds: number;
  /** Live sessions revoked because their task ended in a listed status. */
  readonly taskRevoked: number;
  /** Agent certificates retired by rotateCredentials. */
  readonly credentialsRetired: number;
  /** Finished logout deliveries deleted once past their retention. */
  readonly deliveriesPurged: number;
}

export interface SessionSweeperDeps {
  readonly lifecycle: SessionLifecycleRepository;
  readonly credentials: CredentialRepository;
  readonly agents: AgentRepository;
  readonly policy: CleanupPolicy;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditLog;
  /** Rows per transaction. */
  readonly batchSize: number;
  /** Caps one sweep; what is left waits for the next one. */
  readonly maxBatchesPerSweep?: number;
  /**
   * Sessions the policy revoked, for the back-channel logout fan-out to their SPs.
   * Natural expiry is not passed: the SP's assertion already carried SessionNotOnOrAfter.
   */
  readonly onSessionsRevoked: (sessions: readonly Session[], reason: string) => Promise<void>;
  /** The logout outbox, and how long a finished delivery stays in it (sent and failed deliveries are audited, skipped ones logged). */
  readonly deliveries: { readonly outbox: Pick<LogoutOutbox, 'purgeFinished'>; readonly retentionSeconds: number };
}

const DEFAULT_MAX_BATCHES = 20;

/**
 * Applies session lifetimes and the cleanup policy. Every step is an indexed,
 * bounded batch, so a sweep costs what ends now, not what is stored:
 * 1. sessions past their lifetime are marked ended;
 * 2. sessions idle past the inactivity window are revoked;
 * 3. tasks that ended in a listed status have their remaining sessions revoked;
 * 4. logout deliveries finished longer ago than their retention are deleted;
 * and rotateCredentials retires the affected agents' current certificates.
 * Every revocation and retirement is an audited policy action.
 */
export class SessionSweeper {
  private running: Promise<SweepReport> | undefined;
  private queued: Promise<SweepReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: SessionSweeperDeps) {}

  /**
   * One sweep at a time. A call during a sweep gets the next one, which starts
   * when the current ends (callers arriving meanwhile share it), so its result
   * reflects the clock at or after the call.
   */
  sweep(): Promise<SweepReport> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.sweep();
        });
      return this.queued;
    }
    this.running = this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(intervalSeconds: number): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.deps.logger.error('sessions.sweep_failed', { error: String(error) }));
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await (this.queued ?? this.running)?.catch(() => undefined);
  }

  private async sweepOnce(): Promise<SweepReport> {
    const now = this.deps.clock.now();
    const provenance = new ProvenanceCache(this.deps.agents);
    const expired = await this.endExpired(now, provenance);
    const idle = await this.revokeIdle(now, provenance);
    const tasks = await this.applyTaskEnds(now, provenance);
    const deliveriesPurged = await this.purgeDeliveries(now);
    const report: SweepReport = {
      expired,
      idleRevoked: idle.revoked,
      taskEnds: tasks.seen,
      taskRevoked: tasks.revoked,
      credentialsRetired: idle.retired + tasks.retired,
      deliveriesPurged,
    };
    if (Object.values(report).some((n) => n > 0)) this.deps.logger.info('sessions.swept', { ...report });
    return report;
  }

  private get maxBatches(): number {
    return this.deps.maxBatchesPerSweep ?? DEFAULT_MAX_BATCHES;
  }

  private async purgeDeliveries(now: Date): Promise<number> {
    const { outbox, retentionSeconds } = this.deps.deliveries;
    const before = new Date(now.getTime() - retentionSeconds * 1000);
    let total = 0;
    for (let batch = 0; batch < this.maxBatches && !this.stopped; batch += 1) {
      const purged = await outbox.purgeFinished(before, this.deps.batchSize);
      total += purged;
      if (purged < this.deps.batchSize) break;
    }
    return total;
  }

  private async endExpired(now: Date, provenance: ProvenanceCache): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < this.maxBatches && !this.stopped; batch += 1) {
      const ended = await this.deps.lifecycle.endExpired(now, this.deps.batchSize);
      total += ended.length;
      await this.recordAll(
        ended.map((session) => async () =>
          sessionEvent('session.expired', 'system', session, await provenance.of(session.agentId), {
            expiredAt: session.expiresAt.toISOString(),
          }),
        ),
      );
      if (ended.length < this.deps.batchSize) break;
    }
    return total;
  }

  private async revokeIdle(now: Date, provenance: ProvenanceCache): Promise<{ revoked: number; retired: number }> {
    const { policy } = this.deps;
    if (policy.inactivityWindowSeconds === undefined || !policy.revokeTokens) return { revoked: 0, retired: 0 };
    const idleSince = new Date(now.getTime() - policy.inactivityWindowSeconds * 1000);
    let revoked = 0;
    let retired = 0;
    for (let batch = 0; batch < this.maxBatches && !this.stopped; batch += 1) {
      const sessions = await this.deps.lifecycle.revokeIdle(idleSince, now, this.deps.batchSize, SESSION_END_REASON.inactivity);
      revoked += sessions.length;
      await this.recordAll(
        sessions.map((session) => async () =>
          sessionEvent('policy.revoked', 'policy', session, await provenance.of(session.agentId), {
            condition: 'inactivityWindow',
            inactivityWindowSeconds: policy.inactivityWindowSeconds,
            lastActivityAt: (session.lastActivityAt ?? session.createdAt).toISOString(),
            policy: policy.source,
          }),
        ),
      );
      if (sessions.length > 0) await this.deps.onSessionsRevoked(sessions, SESSION_END_REASON.inactivity);
      if (policy.rotateCredentials) {
        for (const agentId of new Set(sessions.map((s) => s.agentId))) {
          retired += await this.retireCredentials(agentId, now, now, provenance, { condition: 'inactivityWindow' });
        }
      }
      if (sessions.length < this.deps.batchSize) break;
    }
    return { revoked, retired };
  }

  private async applyTaskEnds(now: Date, provenance: ProvenanceCache): Promise<{ seen: number; revoked: number; retired: number }> {
    let seen = 0;
    let revoked = 0;
    let retired = 0;
    for (let batch = 0; batch < this.maxBatches && !this.stopped; batch += 1) {
      const ends = await this.deps.lifecycle.pendingTaskEnds(this.deps.batchSize);
      for (const end of ends) {
        const outcome = await this.applyTaskEnd(end, now, provenance);
        revoked += outcome.revoked;
        retired += outcome.retired;
      }
      seen += ends.length;
      const last = ends[ends.length - 1];
      if (last) await this.deps.lifecycle.acknowledgeTaskEnds(last.seq);
      if (ends.length < this.deps.batchSize) break;
    }
    return { seen, revoked, retired };
  }

  private async applyTaskEnd(end: TaskEndNotice, now: Date, provenance: ProvenanceCache): Promise<{ revoked: number; retired: number }> {
    const { policy } = this.deps;
    if (!(policy.taskStatuses as readonly string[]).includes(end.status)) return { revoked: 0, retired: 0 };
    const reason = SESSION_END_REASON.taskStatus(end.status);
    let revoked: Session[] = [];
    if (policy.revokeTokens) {
      // Ending a task through the API already revoked its sessions; this catches any that are still live.
      revoked = await this.deps.lifecycle.revokeForTask(end.taskId, now, reason);
      await this.recordAll(
        revoked.map((session) => async () =>
          sessionEvent('policy.revoked', 'policy', session, await provenance.of(session.agentId), {
            condition: 'taskStatus',
            taskStatus: end.status,
            policy: policy.source,
          }),
        ),
      );
      if (revoked.length > 0) await this.deps.onSessionsRevoked(revoked, reason);
    }
    // Certificates registered after the task ended were not in use for it and survive.
    const retired = policy.rotateCredentials
      ? await this.retireCredentials(end.agentId, end.endedAt, now, provenance, { condition: 'taskStatus', taskStatus: end.status, taskId: end.taskId })
      : 0;
    return { revoked: revoked.length, retired };
  }

  private async retireCredentials(
    agentId: string,
    registeredBy: Date,
    now: Date,
    provenance: ProvenanceCache,
    cause: Record<string, string>,
  ): Promise<number> {
    const reason = `policy:rotateCredentials after ${cause.condition}`;
    const retired = await this.deps.credentials.retireForAgent(agentId, registeredBy, now, reason);
    if (retired.length === 0) return 0;
    const agent = await provenance.of(agentId);
    await this.deps.audit.record({
      event: 'policy.credentials_retired',
      actor: 'policy',
      ...(agent ? { agent } : { agentId }),
      taskId: cause.taskId,
      details: { ...cause, certificates: retired.map((c) => c.thumbprint), policy: this.deps.policy.source },
    });
    return retired.length;
  }

  /** Audit events of one batch are recorded together (one append transaction). */
  private async recordAll(events: ReadonlyArray<() => Promise<AuditEvent>>): Promise<void> {
    const built = await Promise.all(events.map((make) => make()));
    await Promise.all(built.map((event) => this.deps.audit.record(event)));
  }
}

/** The audit record of a session the sweeper ended (also what the bench's fleet history writes). */
export function sessionEvent(
  event: 'session.expired' | 'policy.revoked',
  actor: string,
  session: Pick<Session, 'id' | 'sessionIndex' | 'agentId' | 'taskId' | 'spEntityId' | 'assertionId' | 'revokeReason'>,
  agent: AuditedAgent | undefined,
  details: Record<string, unknown>,
): AuditEvent {
  return {
    event,
    actor,
    ...(agent ? { agent } : { agentId: session.agentId }),
    taskId: session.taskId,
    spEntityId: session.spEntityId,
    assertionId: session.assertionId,
    sessionId: session.id,
    reason: session.revokeReason,
    details: { sessionIndex: session.sessionIndex, ...details },
  };
}

/** The agent's provenance for the audit trail, read once per agent per sweep. */
class ProvenanceCache {
  private readonly known = new Map<string, Promise<AuditedAgent | undefined>>();
  constructor(private readonly agents: AgentRepository) {}

  of(agentId: string): Promise<AuditedAgent | undefined> {
    let found = this.known.get(agentId);
    if (!found) {
      found = this.agents.get(agentId).then((agent) => (agent ? auditedAgent(agent) : undefined));
      this.known.set(agentId, found);
    }
    return found;
  }
}
