import type { Agent } from '../agents/index.js';
import type { AuditedAgent } from './audit-log.js';

export type { AuditEvent, AuditEventName, AuditLog, AuditedAgent } from './audit-log.js';
export type { AuditStore, AuditCheckpoint, AuditFilter, AuditHead, RawCheckpointRow } from './audit-store.js';
export type { AuditEntry, NewAuditEntry, RawAuditRow } from './audit-entry.js';
export { GENESIS_HASH, chainHash, canonicalJson, entryFromEvent } from './audit-entry.js';
export { loggingAuditLog, auditLogFields } from './log-audit.js';
export { chainedAuditLog, type ChainedAuditLog } from './chained-audit-log.js';
export { AuditCheckpointer, signCheckpoint, checkpointSignatureValid, type CheckpointSchedule } from './checkpoints.js';
export { verifyAuditChain, type AuditVerification } from './verify.js';
export { exportLine } from './export.js';

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
