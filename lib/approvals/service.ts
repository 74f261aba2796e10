import { TesseraError } from '../common/errors.js';
import { isoSeconds } from '../common/clock.js';
import type { AuditLog } from '../audit/index.js';
import { effectiveApprovalStatus, type ApprovalRepository, type ApprovalRequest } from './approval.js';

export interface ApprovalServiceDeps {
  readonly approvals: ApprovalRepository;
  readonly audit: AuditLog;
  /** How long an approval lets the next sign-on through. */
  readonly validForSeconds: number;
}

/**
 * The owner's answer to a step-up, from the command line or the Tasks API. Only a
 * pending, unexpired request can be decided; an expired one already counts as denied.
 */
export async function decideApproval(
  deps: ApprovalServiceDeps,
  id: string,
  verdict: 'approved' | 'denied',
  decidedBy: string,
  now: Date,
): Promise<ApprovalRequest> {
  const outcome = await deps.approvals.decide(id, verdict, decidedBy, now, deps.validForSeconds);
  if (outcome.outcome === 'not_found') throw new TesseraError('not_found', `no approval request ${id}`);
  if (outcome.outcome === 'not_pending') {
    const status = effectiveApprovalStatus(outcome.request, now);
    throw new TesseraError('conflict', `approval request ${id} is ${status}${status === 'expired' ? ' (counts as denied)' : ''}, not pending`);
  }
  const request = outcome.request;
  await deps.audit.record({
    event: verdict === 'approved' ? 'approval.approved' : 'approval.denied',
    actor: decidedBy,
    agentId: request.agentId,
    taskId: request.taskId,
    spEntityId: request.spEntityId,
    details: { approvalId: request.id, validUntil: request.validUntil?.toISOString(), reasons: request.reasons.map((r) => r.code) },
  });
  return request;
}

/** The JSON shape of a request (Tasks API, `tessera approvals list`). */
export function representApproval(request: ApprovalRequest, now: Date): Record<string, unknown> {
  return {
    approvalId: request.id,
    taskId: request.taskId,
    agentId: request.agentId,
    ...(request.spEntityId ? { spEntityId: request.spEntityId } : {}),
    ...(request.owner ? { owner: request.owner } : {}),
    status: effectiveApprovalStatus(request, now).toUpperCase(),
    reasons: request.reasons.map((r) => ({ code: r.ruleId ? `rule:${r.ruleId}` : r.code, detail: r.detail })),
    riskScore: Number(request.riskScore.toFixed(3)),
    createdAt: isoSeconds(request.createdAt),
    expiresAt: isoSeconds(request.expiresAt),
    ...(request.decidedAt ? { decidedAt: isoSeconds(request.decidedAt), decidedBy: request.decidedBy } : {}),
    ...(request.validUntil ? { validUntil: isoSeconds(request.validUntil) } : {}),
    ...(request.consumedAt ? { consumedAt: isoSeconds(request.consumedAt) } : {}),
  };
}
