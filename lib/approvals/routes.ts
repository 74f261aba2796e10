import type { Router } from 'express';
import { TesseraError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { AuditLog } from '../audit/index.js';
import type { ApprovalRepository } from './approval.js';
import { decideApproval, representApproval } from './service.js';

export interface ApprovalRoutesDeps {
  readonly approvals: ApprovalRepository;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly validForSeconds: number;
  readonly actor: (res: import('express').Response) => string;
}

const VERDICTS: Record<string, 'approved' | 'denied'> = { APPROVED: 'approved', DENIED: 'denied' };

/**
 * Step-up approvals of a task, under the Tasks API:
 * GET /api/v1/tasks/{taskId}/approvals, and
 * PATCH /api/v1/tasks/{taskId}/approvals/{approvalId} with `{ "status": "APPROVED" | "DENIED" }`.
 */
export function mountApprovalRoutes(router: Router, deps: ApprovalRoutesDeps): void {
  router.get('/:taskId/approvals', async (req, res) => {
    const now = deps.clock.now();
    const requests = await deps.approvals.list({ taskId: req.params.taskId! });
    res.json({ approvals: requests.map((request) => representApproval(request, now)) });
  });

  router.patch('/:taskId/approvals/:approvalId', async (req, res) => {
    if (!req.is(['application/json', 'application/*+json'])) throw new TesseraError('unsupported_media_type', 'send the body as application/json');
    const body: unknown = req.body;
    const status = typeof body === 'object' && body !== null && 'status' in body ? body.status : undefined;
    const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
    const verdict = typeof status === 'string' ? VERDICTS[status] : undefined;
    if (!verdict || keys.length !== 1) throw new TesseraError('invalid_value', 'the body must be { "status": "APPROVED" } or { "status": "DENIED" }');
    const existing = await deps.approvals.get(req.params.approvalId!);
    if (!existing || existing.taskId !== req.params.taskId) throw new TesseraError('not_found', `no approval request ${req.params.approvalId} for this task`);
    const now = deps.clock.now();
    const decided = await decideApproval(deps, existing.id, verdict, deps.actor(res), now);
    res.json(representApproval(decided, now));
  });
}
