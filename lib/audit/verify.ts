import type { KeyObject } from 'node:crypto';
import { chainHash, GENESIS_HASH, type RawAuditRow } from './audit-entry.js';
import type { RawCheckpointRow } from './audit-store.js';
import { checkpointSignatureValid } from './checkpoints.js';

export type AuditVerification =
  | {
      readonly intact: true;
      readonly entries: number;
      readonly headHash: string;
      readonly checkpoints: number;
      /** Entries after the last signed checkpoint: protected by the chain only. */
      readonly uncheckpointed: number;
    }
  | {
      readonly intact: false;
      /** The first sequence number that cannot be trusted. */
      readonly firstBadSeq: number;
      readonly reason: string;
    };

interface Break {
  readonly seq: number;
  readonly reason: string;
}

/**
 * Recomputes the chain from sequence 1 over the rows exactly as stored,
 * trusting neither the database's triggers nor its order: sequence numbers must
 * run 1, 2, 3… without gaps or repeats, every hash must match its entry, and
 * every entry must name its predecessor's hash. Then every checkpoint must carry
 * a valid signature by one of `trustedKeys` and match the recomputed head at
 * its sequence, which catches a chain rewritten end to end or cut short.
 */
export async function verifyAuditChain(
  rows: AsyncIterable<RawAuditRow>,
  checkpoints: readonly RawCheckpointRow[],
  trustedKeys: ReadonlyMap<string, KeyObject>,
): Promise<AuditVerification> {
  const checkpointSeqs = new Set(checkpoints.map((c) => c.seq));
  const recomputedAt = new Map<unknown, string>();
  let expected = 1;
  let previousHash = GENESIS_HASH;
  let chainBreak: Break | undefined;

  for await (const row of rows) {
    chainBreak = checkEntry(row, expected, previousHash);
    if (chainBreak) break;
    previousHash = row.hash as string;
    if (checkpointSeqs.has(row.seq)) recomputedAt.set(row.seq, previousHash);
    expected += 1;
  }
  const entries = expected - 1;

  const checkpointBreak = checkCheckpoints(checkpoints, recomputedAt, trustedKeys, chainBreak?.seq, entries);
  const first = [chainBreak, checkpointBreak].filter((b): b is Break => b !== undefined).sort((a, b) => a.seq - b.seq)[0];
  if (first) return { intact: false, firstBadSeq: first.seq, reason: first.reason };

  const lastCheckpoint = checkpoints.length > 0 ? (checkpoints[checkpoints.length - 1]!.seq as number) : 0;
  return { intact: true, entries, headHash: previousHash, checkpoints: checkpoints.length, uncheckpointed: entries - lastCheckpoint };
}

function checkEntry(row: RawAuditRow, expected: number, previousHash: string): Break | undefined {
  if (typeof row.seq !== 'number' || !Number.isInteger(row.seq)) {
    return { seq: expected, reason: `the entry in place of sequence ${expected} has no integer sequence number` };
  }
  if (row.seq > expected) {
    const missing = row.seq - expected === 1 ? `${expected} is` : `${expected} to ${row.seq - 1} are`;
    return { seq: expected, reason: `entries are missing: sequence ${missing} absent` };
  }
  if (row.seq < expected) return { seq: row.seq, reason: `sequence ${row.seq} appears more than once` };
  const { hash, ...hashed } = row;
  if (chainHash(hashed) !== hash) return { seq: expected, reason: `entry ${expected} does not match its hash (altered)` };
  if (row.prev_hash !== previousHash) {
    // The entry is self-consistent, so its predecessor was rewritten (and re-hashed) after this entry chained onto it.
    return expected === 1
      ? { seq: 1, reason: 'entry 1 does not start from the genesis hash' }
      : { seq: expected - 1, reason: `entry ${expected - 1} does not match the hash entry ${expected} recorded for it` };
  }
  return undefined;
}

/**
 * Checkpoints below the first chain break must each verify; a failing one means
 * everything after the previous good checkpoint is suspect.
 */
function checkCheckpoints(
  checkpoints: readonly RawCheckpointRow[],
  recomputedAt: ReadonlyMap<unknown, string>,
  trustedKeys: ReadonlyMap<string, KeyObject>,
  chainBreakSeq: number | undefined,
  entries: number,
): Break | undefined {
  let lastGood = 0;
  for (const checkpoint of checkpoints) {
    const seq = checkpoint.seq;
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) {
      return { seq: lastGood + 1, reason: `a checkpoint after sequence ${lastGood} has no valid sequence number` };
    }
    if (chainBreakSeq !== undefined && seq >= chainBreakSeq) return undefined; // explained by the chain break itself
    const key = typeof checkpoint.key_id === 'string' ? trustedKeys.get(checkpoint.key_id) : undefined;
    if (!key) {
      return { seq: lastGood + 1, reason: `the checkpoint at sequence ${seq} is not signed by a signing key of this IdP` };
    }
    if (!checkpointSignatureValid(checkpoint, key)) {
      return { seq: lastGood + 1, reason: `the checkpoint at sequence ${seq} has an invalid signature` };
    }
    if (seq > entries) {
      return { seq: entries + 1, reason: `the log ends at sequence ${entries} but a signed checkpoint covers sequence ${seq}: entries were removed` };
    }
    if (recomputedAt.get(seq) !== checkpoint.hash) {
      return {
        seq: lastGood + 1,
        reason: `the chain at sequence ${seq} does not match its signed checkpoint: entries after ${lastGood} were rewritten`,
      };
    }
    lastGood = seq;
  }
  return undefined;
}
