import type { Reason } from '../policy/decision.js';

export type StoredApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed';
/** EXPIRED is derived: a pending request past its expiry, which counts as denied. */
export type ApprovalStatus = StoredApprovalStatus | 'expired';

/** A step-up held for the agent's owner: approve to let the next sign-on of this task (and SP) through. */
export interface ApprovalRequest {
  readonly id: string;
  readonly agentId: string;
  readonly taskId: string;
  readonly spEntityId: string | undefined;
  readonly owner: string | undefined;
  readonly reasons: readonly Reason[];
  readonly riskScore: number;
  readonly status: StoredApprovalStatus;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly decidedAt: Date | undefined;
  readonly decidedBy: string | undefined;
  /** An approval lets a sign-on through until then. */
  readonly validUntil: Date | undefined;
  readonly consumedAt: Date | undefined;
}

export function effectiveApprovalStatus(request: ApprovalRequest, now: Date): ApprovalStatus {
  if (request.status === 'pending' && now.getTime() >= request.expiresAt.getTime()) return 'expired';
  if (request.status === 'approved' && request.validUntil !== undefined && now.getTime() >= request.validUntil.getTime()) return 'expired';
  return request.status;
}

export type NewApprovalRequest = Omit<ApprovalRequest, 'status' | 'decidedAt' | 'decidedBy' | 'validUntil' | 'consumedAt'>;

export type ApprovalDecisionOutcome =
  | { readonly outcome: 'decided'; readonly request: ApprovalRequest }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'not_pending'; readonly request: ApprovalRequest };

export interface ApprovalRepository {
  /** Records the request unless a pending, unexpired one exists for the same agent, task and SP (then returns that one). */
  requestOrReuse(candidate: NewApprovalRequest, now: Date): Promise<{ readonly request: ApprovalRequest; readonly created: boolean }>;
  /**
   * Consumes an approved, unexpired, unused approval for this agent, task and SP, if
   * there is one: an approval lets exactly one sign-on through.
   */
  consumeGranted(agentId: string, taskId: string, spEntityId: string, now: Date): Promise<ApprovalRequest | undefined>;
  /** Approves or denies a pending, unexpired request; approving also lifts a revoke hold on the agent. */
  decide(id: string, status: 'approved' | 'denied', decidedBy: string, now: Date, validForSeconds: number): Promise<ApprovalDecisionOutcome>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  list(filter: { readonly taskId?: string; readonly pendingAt?: Date }): Promise<ApprovalRequest[]>;
}
