import type { Logger } from '../common/log.js';
import type { AuditEntry } from './audit-entry.js';
import type { AuditEvent, AuditLog } from './audit-log.js';

/** The structured log line of a decision: flat fields an operator can grep. */
export function auditLogFields(event: AuditEvent): Record<string, unknown> {
  const { event: _name, agent, details, ...rest } = event;
  return {
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
  };
}

/** Audit events as structured log lines only: for tools that have no store. */
export function loggingAuditLog(logger: Logger): AuditLog {
  return {
    async record(event: AuditEvent): Promise<void> {
      logger.info(`audit.${event.event}`, auditLogFields(event));
    },
    recorded(event: AuditEvent, entry: AuditEntry): void {
      logger.info(`audit.${event.event}`, { ...auditLogFields(event), auditSeq: entry.seq });
    },
  };
}
