import type { AuditEntry, NewAuditEntry, RawAuditRow } from './audit-entry.js';

export interface AuditHead {
  /** 0 for an empty log. */
  readonly seq: number;
  readonly hash: string;
}

/** The chain head at `seq`, signed with the IdP signing key. */
export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
  readonly keyId: string;
  readonly certificatePem: string;
  readonly algorithm: 'RSA-SHA256';
  /** Base64. */
  readonly signature: string;
}

/** Checkpoint columns as stored, before any check. */
export interface RawCheckpointRow {
  readonly seq: unknown;
  readonly hash: unknown;
  readonly at: unknown;
  readonly key_id: unknown;
  readonly certificate_pem: unknown;
  readonly algorithm: unknown;
  readonly signature: unknown;
}

export interface AuditFilter {
  /** The agent's id or its userName (case-insensitive). */
  readonly agent?: string | undefined;
  readonly taskId?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
}

/** The append-only, hash-chained trail. */
export interface AuditStore {
  /**
   * Chains and appends the entries after the current head, atomically: the head
   * is read and the entries inserted in one write transaction, so several
   * processes may append at once. Resolves once the entries are durable.
   */
  append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]>;
  head(): Promise<AuditHead>;
  lastCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** @returns false when a checkpoint for that head already exists (another process signed it). */
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<boolean>;
  /** Every entry exactly as stored, ordered by seq; nothing about them is assumed. */
  scanRaw(): AsyncIterable<RawAuditRow>;
  /** Every checkpoint exactly as stored, ordered by seq. */
  checkpointsRaw(): Promise<RawCheckpointRow[]>;
  /** Entries matching the filter, ordered by seq. */
  query(filter: AuditFilter): AsyncIterable<AuditEntry>;
}
