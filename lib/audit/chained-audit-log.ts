import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { entryFromEvent, type AuditEntry, type NewAuditEntry } from './audit-entry.js';
import type { AuditEvent, AuditLog } from './audit-log.js';
import type { AuditStore } from './audit-store.js';
import { auditLogFields } from './log-audit.js';

export interface ChainedAuditLog extends AuditLog {
  /** Appends whatever is queued now; resolves when it is durable. */
  flush(): Promise<void>;
  /** Called after each durable append with the new head, e.g. to schedule a checkpoint. */
  onAppended(listener: (head: AuditEntry) => void): void;
}

interface Pending {
  readonly event: AuditEvent;
  readonly entry: NewAuditEntry;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The audit log over the hash-chained store. Decisions recorded in the same turn
 * of the event loop are appended in one transaction (group commit), and each
 * caller's promise resolves only once its entry is durable, so nothing is
 * acknowledged before it is on record. Each decision also stays a log line.
 */
export function chainedAuditLog(deps: { store: AuditStore; clock: Clock; logger: Logger }): ChainedAuditLog {
  let queue: Pending[] = [];
  let scheduled: Promise<void> | undefined;
  const listeners: Array<(head: AuditEntry) => void> = [];

  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    scheduled = undefined;
    if (batch.length === 0) return;
    let appended: AuditEntry[];
    try {
      appended = await deps.store.append(batch.map((p) => p.entry));
    } catch (error) {
      deps.logger.error('audit.append_failed', { error: String(error), events: batch.length });
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => {
      logAppended(pending.event, appended[i]!);
      pending.resolve();
    });
    const head = appended[appended.length - 1]!;
    for (const listener of listeners) listener(head);
  };
  const logAppended = (event: AuditEvent, entry: AuditEntry): void => {
    deps.logger.info(`audit.${event.event}`, auditLogFields(event, { auditSeq: entry.seq }));
  };

  return {
    record(event: AuditEvent): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, entry: entryFromEvent(event, deps.clock.now()), resolve, reject });
        scheduled ??= new Promise<void>((done) => setImmediate(() => void flush().finally(done)));
      });
    },
    recorded(event: AuditEvent, entry: AuditEntry): void {
      logAppended(event, entry);
      for (const listener of listeners) listener(entry);
    },
    async flush(): Promise<void> {
      await (scheduled ?? flush());
    },
    onAppended(listener) {
      listeners.push(listener);
    },
  };
}
