import { sign, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { SigningKey } from '../keys/index.js';
import type { AuditCheckpoint, AuditHead, AuditStore } from './audit-store.js';

const PAYLOAD_FORMAT = 'tessera-audit-checkpoint/1';

/** The exact bytes a checkpoint signature covers: head sequence, head hash and signing time. */
export function checkpointPayload(seq: unknown, hash: unknown, atMillis: unknown): Buffer {
  return Buffer.from(JSON.stringify([PAYLOAD_FORMAT, seq, hash, atMillis]), 'utf8');
}

export function signCheckpoint(head: AuditHead, at: Date, key: SigningKey): AuditCheckpoint {
  const signature = sign('sha256', checkpointPayload(head.seq, head.hash, at.getTime()), key.privateKey).toString('base64');
  return {
    seq: head.seq,
    hash: head.hash,
    at,
    keyId: key.id,
    certificatePem: key.certificatePem,
    algorithm: 'RSA-SHA256',
    signature,
  };
}

export function checkpointSignatureValid(
  row: { seq: unknown; hash: unknown; at: unknown; signature: unknown; algorithm: unknown },
  publicKey: KeyObject,
): boolean {
  if (row.algorithm !== 'RSA-SHA256' || typeof row.signature !== 'string') return false;
  try {
    return verify('sha256', checkpointPayload(row.seq, row.hash, row.at), publicKey, Buffer.from(row.signature, 'base64'));
  } catch {
    return false;
  }
}

export interface CheckpointSchedule {
  readonly intervalSeconds: number;
  readonly everyEntries: number;
}

/**
 * Signs the chain head with the IdP's current signing key, at most every
 * `intervalSeconds` and whenever `everyEntries` were added. Each checkpoint is
 * also written to the structured log, a copy outside the database.
 */
export class AuditCheckpointer {
  private lastSeq: number | undefined;
  private lastAt = 0;
  private running: Promise<AuditCheckpoint | undefined> | undefined;
  /** A checkpoint noteHead asked for, waiting for the next turn of the event loop. */
  private deferred: NodeJS.Immediate | undefined;

  constructor(
    private readonly deps: {
      store: AuditStore;
      signingKey: () => SigningKey;
      clock: Clock;
      logger: Logger;
      schedule: CheckpointSchedule;
    },
  ) {}

  /**
   * Cheap: called after every append; signs only when enough entries accumulated, and
   * then on the next turn of the event loop, so the requests whose entries were just
   * appended answer first instead of waiting for a signature and its commit.
   */
  noteHead(seq: number): void {
    if (this.deferred !== undefined || seq - (this.lastSeq ?? 0) < this.deps.schedule.everyEntries) return;
    this.deferred = setImmediate(() => {
      this.deferred = undefined;
      this.checkpoint('entries').catch((error: unknown) => this.deps.logger.error('audit.checkpoint_failed', { error: String(error) }));
    });
  }

  /** Called on a timer: signs if the head moved and the interval has passed. */
  async tick(): Promise<AuditCheckpoint | undefined> {
    await this.load();
    const due = this.deps.clock.now().getTime() - this.lastAt >= this.deps.schedule.intervalSeconds * 1000;
    return due ? this.checkpoint('interval') : undefined;
  }

  /**
   * Signs the current head now, unless it is already checkpointed. Automatic
   * causes join a checkpoint in progress; an explicit one runs after it, so it
   * covers every entry appended before the call.
   */
  checkpoint(cause: 'entries' | 'interval' | 'request' | 'shutdown' = 'request'): Promise<AuditCheckpoint | undefined> {
    if (this.running && (cause === 'entries' || cause === 'interval')) return this.running;
    if (cause === 'request' || cause === 'shutdown') {
      // This one covers the head a deferred one would have signed (and shutdown closes the store after it).
      clearImmediate(this.deferred);
      this.deferred = undefined;
    }
    const run = (this.running ?? Promise.resolve(undefined)).catch(() => undefined).then(() => this.signHead(cause));
    const tracked: Promise<AuditCheckpoint | undefined> = run.finally(() => {
      if (this.running === tracked) this.running = undefined;
    });
    this.running = tracked;
    return tracked;
  }

  private async load(): Promise<void> {
    if (this.lastSeq !== undefined) return;
    const last = await this.deps.store.lastCheckpoint();
    this.lastSeq = last?.seq ?? 0;
    this.lastAt = last?.at.getTime() ?? 0;
  }

  private async signHead(cause: string): Promise<AuditCheckpoint | undefined> {
    await this.load();
    const head = await this.deps.store.head();
    const since = head.seq - (this.lastSeq ?? 0);
    if (head.seq === 0 || since <= 0 || (cause === 'entries' && since < this.deps.schedule.everyEntries)) return undefined;
    const checkpoint = signCheckpoint(head, this.deps.clock.now(), this.deps.signingKey());
    const added = await this.deps.store.addCheckpoint(checkpoint);
    this.lastSeq = head.seq;
    this.lastAt = checkpoint.at.getTime();
    if (added) {
      this.deps.logger.info('audit.checkpoint', {
        seq: checkpoint.seq,
        hash: checkpoint.hash,
        at: checkpoint.at.toISOString(),
        keyId: checkpoint.keyId,
        signature: checkpoint.signature,
        cause,
      });
    }
    return checkpoint;
  }
}
