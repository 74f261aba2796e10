import type { AuditEntry, AuditEvent } from '../audit/index.js';
import type { RiskLearning } from '../risk/risk-repository.js';
import type { Session } from './session.js';
import type { OpenedSession } from './session-repository.js';

/** Everything one allowed sign-on writes before its Response may leave. */
export interface Issuance {
  readonly candidate: Session;
  readonly now: Date;
  /** A live session idle since then or earlier is not refreshed (SessionRepository.openOrRefresh). */
  readonly idleSince: Date | undefined;
  /** The allowed sign-on as the agent's risk baseline should learn it; none when risk scoring is off. */
  readonly learning: RiskLearning | undefined;
  /** The `signon.issued` record of the session as it was opened or refreshed. */
  readonly audit: (opened: OpenedSession) => AuditEvent;
}

export interface IssuedSession {
  readonly opened: OpenedSession;
  /** The appended entry: the caller logs it (AuditLog.recorded) once it is durable. */
  readonly audited: { readonly event: AuditEvent; readonly entry: AuditEntry };
}

/**
 * The sign-on's writes as one transaction: the session (opened or refreshed, task
 * and agent re-checked), the risk baseline's learning and the audit entry commit
 * together or not at all. One commit per sign-on instead of three, and no session
 * on record without its audit entry, nor a baseline that learnt a refused sign-on.
 */
export interface IssuanceRepository {
  /** @returns undefined, with nothing written, when the task or agent ended in the meantime. */
  issue(issuance: Issuance): Promise<IssuedSession | undefined>;
}
