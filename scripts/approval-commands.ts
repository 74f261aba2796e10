import type { Config } from '../lib/config/index.js';
import { TesseraError } from '../lib/common/errors.js';
import { systemClock } from '../lib/common/clock.js';
import { silentLogger } from '../lib/common/log.js';
import type { Store } from '../lib/store/index.js';
import { chainedAuditLog } from '../lib/audit/index.js';
import { decideApproval, representApproval } from '../lib/approvals/service.js';

type ApprovalCommand = (args: { positionals: string[]; config: Config }) => Promise<number>;
type WithStore = <T>(config: Config, work: (store: Store) => Promise<T>) => Promise<T>;

/**
 * `approvals list [--all]`, `approvals approve ID`, `approvals deny ID`: the agent
 * owner's side of a step-up, on the data directory directly (the running IdP sees the
 * decision at the agent's next sign-on).
 */
export function approvalCommands(withStore: WithStore): Record<string, ApprovalCommand> {
  const decide = (verdict: 'approved' | 'denied'): ApprovalCommand => async ({ positionals, config }) => {
    const id = positionals[0];
    if (!id) throw new TesseraError('invalid_value', `missing ID: tessera approvals ${verdict === 'approved' ? 'approve' : 'deny'} ID`);
    const request = await withStore(config, (store) =>
      decideApproval(
        {
          approvals: store.approvals,
          audit: chainedAuditLog({ store: store.audit, clock: systemClock, logger: silentLogger }),
          validForSeconds: config.policy.approvals.validForSeconds,
        },
        id,
        verdict,
        'admin',
        systemClock.now(),
      ),
    );
    process.stdout.write(
      verdict === 'approved'
        ? `approved ${request.id}: the agent's next sign-on for task ${request.taskId} goes through until ${request.validUntil?.toISOString()}\n`
        : `denied ${request.id}\n`,
    );
    return 0;
  };
  return {
    'approvals list': async ({ positionals, config }) => {
      const all = positionals.includes('all');
      const now = systemClock.now();
      const requests = await withStore(config, (store) => store.approvals.list(all ? {} : { pendingAt: now }));
      for (const request of requests) {
        const shown = representApproval(request, now);
        const reasons = (shown.reasons as Array<{ code: string }>).map((r) => r.code).join(',');
        process.stdout.write(
          [request.id, shown.status, `agent=${request.agentId}`, `task=${request.taskId}`, `sp=${request.spEntityId ?? '-'}`, `owner=${request.owner ?? '-'}`, `risk=${shown.riskScore}`, `reasons=${reasons}`, `expires=${shown.expiresAt}`].join('\t') + '\n',
        );
      }
      if (requests.length === 0) process.stderr.write(all ? 'no approval requests\n' : 'no pending approval requests\n');
      return 0;
    },
    'approvals approve': decide('approved'),
    'approvals deny': decide('denied'),
  };
}
