import type { Agent } from '../agents/index.js';
import type { AuditedAgent } from './audit-log.js';

export type { AuditEvent, AuditEventName, AuditLog, AuditedAgent } from './audit-log.js';
export { loggingAuditLog } from './log-audit.js';

/** The agent's provenance as the audit trail keeps it. */
export function auditedAgent(agent: Agent): AuditedAgent {
  return {
    id: agent.id,
    userName: agent.userName,
    modelHash: agent.profile.modelHash,
    sourceCommit: agent.profile.sourceCommit,
    trainingDataVersion: agent.profile.trainingDataVersion,
  };
}
