import { randomUUID } from 'node:crypto';
import type { Task } from '../../lib/tasks/task.js';

/** An open task record, as the Tasks API stores one, for tests that write through the store directly. */
export function openTaskRecord(agentId: string, now: Date, lifetimeMs = 3_600_000): Task {
  return {
    id: randomUUID(),
    agentId,
    scopes: ['invoices:read'],
    tier: 'medium',
    audiences: [],
    context: { cidrs: [], computeZone: undefined },
    status: 'OPEN',
    createdAt: now,
    expiresAt: new Date(now.getTime() + lifetimeMs),
    endedAt: undefined,
  };
}

/** Whether a promise has settled yet, readable at any moment without awaiting it. */
export function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}
