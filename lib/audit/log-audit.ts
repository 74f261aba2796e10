import type { Logger } from '../common/log.js';
import type { AuditEvent, AuditLog } from './audit-log.js';

/** Audit events as structured log lines: the record before the hash-chained store exists. */
export function loggingAuditLog(logger: Logger): AuditLog {
  return {
    async record(event: AuditEvent): Promise<void> {
      const { event: name, agent, details, ...rest } = event;
      logger.info(`audit.${name}`, {
        ...rest,
        ...(agent
          ? {
              agentId: agent.id,
              userName: agent.userName,
              modelHash: agent.modelHash,
              sourceCommit: agent.sourceCommit,
              trainingDataVersion: agent.trainingDataVersion,
            }
          : {}),
        ...details,
      });
    },
  };
}
