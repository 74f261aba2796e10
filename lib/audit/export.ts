import type { AuditEntry } from './audit-entry.js';

/** One JSON Lines record per entry: every hashed field, times as ISO 8601, details as an object. */
export function exportLine(entry: AuditEntry): string {
  return JSON.stringify({
    seq: entry.seq,
    time: entry.at.toISOString(),
    event: entry.event,
    actor: entry.actor,
    agentId: entry.agentId,
    agent: entry.agentUserName,
    taskId: entry.taskId,
    spEntityId: entry.spEntityId,
    assertionId: entry.assertionId,
    sessionId: entry.sessionId,
    modelHash: entry.modelHash,
    sourceCommit: entry.sourceCommit,
    trainingDataVersion: entry.trainingDataVersion,
    reason: entry.reason,
    details: JSON.parse(entry.details) as unknown,
    prevHash: entry.prevHash,
    hash: entry.hash,
  });
}
