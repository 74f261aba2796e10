import { randomFillSync } from 'node:crypto';

/*
 * Identifiers that are stored in indexed columns lead with the time they were
 * made. A random key lands on a random leaf of its index: with millions of
 * rows that leaf is seldom cached, and every commit writes one more page to
 * the WAL (and the checkpoint one more page into the database) per row. A key
 * that starts with the time extends its index at the end, where the pages are
 * already hot and shared by the rows of one commit.
 *
 * The time prefix is not a secret: the assertion that carries these IDs states
 * its IssueInstant anyway. Uniqueness and unguessability come from the random
 * part alone, which keeps the full size it had without the prefix.
 */

/*
 * An ID takes 10 to 20 random bytes; one call to the CSPRNG per ID cost ~8 µs
 * (randomBytes allocates and locks per call), a slice of a refilled pool
 * ~0.3 µs. Every byte is used once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomSlice(bytes: number): number {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += bytes;
  return start;
}

/** SAML core 1.3.4 asks for at most a 2^-160 chance of two random IDs being equal: 160 random bits. */
const SAML_ID_RANDOM_BYTES = 20;

/** 48 bits of milliseconds, as 12 hex digits: sorts by time until the year 10889. */
function millisHex(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
}

/**
 * A SAML ID (xs:ID, so an NCName: it starts with an underscore): the
 * millisecond time, then 160 random bits, in lowercase hex.
 */
export function samlId(nowMs: number = Date.now()): string {
  const start = randomSlice(SAML_ID_RANDOM_BYTES);
  return '_' + millisHex(nowMs) + pool.toString('hex', start, start + SAML_ID_RANDOM_BYTES);
}

/**
 * A UUID in the version 7 layout (RFC 9562 section 5.7): 48 bits of
 * milliseconds, the version, 12 random bits, the variant, 62 random bits.
 */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  const start = randomSlice(10);
  const random = pool.subarray(start, start + 10);
  const time = millisHex(nowMs);
  const hex = random.toString('hex');
  // rand_a: 12 bits after the version nibble; rand_b: 62 bits after the two variant bits (10).
  const variant = ((random[2]! & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${hex.slice(1, 4)}-${variant}${hex.slice(6, 8)}-${hex.slice(8, 20)}`;
}
