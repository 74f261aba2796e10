import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { TesseraError } from '../common/errors.js';
import { parseDurationSeconds } from './duration.js';

/** Task statuses a policy may name: the terminal ones (EXPIRED is derived and caps every session anyway). */
export const POLICY_TASK_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type PolicyTaskStatus = (typeof POLICY_TASK_STATUSES)[number];

/**
 * The automatic-revocation policy (the seed's `automaticRevocation` shape).
 * Conditions are alternatives: a session matches when it has been idle past the
 * inactivity window, or when its task ended in a listed status. Actions apply to
 * each match: revoke the session; retire its agent's current certificates.
 */
export interface CleanupPolicy {
  /** "FILE:LINE" of the policy, or "default". */
  readonly source: string;
  readonly inactivityWindowSeconds: number | undefined;
  readonly taskStatuses: readonly PolicyTaskStatus[];
  readonly revokeTokens: boolean;
  readonly rotateCredentials: boolean;
}

/** Without a policy: idle sessions end after 300 s (DESIGN: "an inactivity window (default 300 s)"). */
export const DEFAULT_CLEANUP_POLICY: CleanupPolicy = {
  source: 'default',
  inactivityWindowSeconds: 300,
  taskStatuses: [],
  revokeTokens: true,
  rotateCredentials: false,
};

const MIN_WINDOW_SECONDS = 10;
const MAX_WINDOW_SECONDS = 30 * 86_400;

/** Reports problems as "FILE:LINE: reason", the line of the offending node. */
export class YamlLocator {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  lineOf(node: unknown): number {
    const range = (node as Node | null | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : 0;
  }

  fail(node: unknown, reason: string): never {
    throw new TesseraError('config_invalid', `${this.file}:${this.lineOf(node)}: ${reason}`);
  }
}

/** Parses YAML text, failing with the first syntax error's line. */
export function parseYamlFile(file: string, text: string): { doc: Document; at: YamlLocator } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? lineCounter.linePos(firstError.pos[0]).line;
    throw new TesseraError('config_invalid', `${file}:${line}: ${firstError.message.split('\n')[0]}`);
  }
  return { doc, at: new YamlLocator(file, lineCounter) };
}

/** A policy file in the seed's shape: one top-level `automaticRevocation` block. */
export function readCleanupPolicyFile(file: string): CleanupPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TesseraError('config_invalid', `cannot read the policy file ${file}: ${(err as Error).message}`);
  }
  const parsed = parseYamlFile(file, text);
  const at: YamlLocator = parsed.at;
  const contents = parsed.doc.contents;
  if (!isMap(contents)) at.fail(contents, 'a policy file must be a mapping with one key, automaticRevocation');
  const root: YAMLMap = contents;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key !== 'automaticRevocation') at.fail(pair.key, `unknown key "${String(key)}": a policy file holds only automaticRevocation`);
  }
  const block = root.get('automaticRevocation', true);
  if (block === undefined) at.fail(root, 'automaticRevocation is missing');
  return parseCleanupPolicy(block, at);
}

/** Validates an `automaticRevocation` node; every refusal names its line. */
export function parseCleanupPolicy(node: unknown, at: YamlLocator): CleanupPolicy {
  if (!isMap(node)) at.fail(node, 'automaticRevocation must be a mapping with conditions and actions');
  const map = node as YAMLMap;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key !== 'conditions' && key !== 'actions') {
      at.fail(pair.key, `unknown key "${String(key)}" in automaticRevocation (expected conditions and actions)`);
    }
  }
  const conditions = map.get('conditions', true);
  const actions = map.get('actions', true);
  if (!isSeq(conditions) || conditions.items.length === 0) at.fail(conditions ?? map, 'conditions must be a non-empty list');
  if (!isSeq(actions) || actions.items.length === 0) at.fail(actions ?? map, 'actions must be a non-empty list');

  let inactivityWindowSeconds: number | undefined;
  const taskStatuses = new Set<PolicyTaskStatus>();
  for (const item of conditions.items) {
    const [key, value, keyNode] = singleEntry(item, at, 'a condition', ['taskStatus', 'inactivityWindow']);
    if (key === 'inactivityWindow') {
      if (inactivityWindowSeconds !== undefined) at.fail(keyNode, 'inactivityWindow is given twice');
      const seconds = parseDurationSeconds(scalarValue(value));
      if (seconds === undefined) at.fail(value, 'inactivityWindow must be a duration such as 300s, 5m or 1h');
      if (seconds < MIN_WINDOW_SECONDS || seconds > MAX_WINDOW_SECONDS) {
        at.fail(value, `inactivityWindow must be from ${MIN_WINDOW_SECONDS}s to ${MAX_WINDOW_SECONDS / 86_400}d`);
      }
      inactivityWindowSeconds = seconds;
    } else {
      const statuses = isSeq(value) ? value.items : [value];
      if (statuses.length === 0) at.fail(value, 'taskStatus must name at least one status');
      for (const status of statuses) {
        const text = scalarValue(status);
        if (typeof text !== 'string' || !(POLICY_TASK_STATUSES as readonly string[]).includes(text)) {
          at.fail(status, `taskStatus must be one of ${POLICY_TASK_STATUSES.join(', ')} (got ${JSON.stringify(text)})`);
        }
        taskStatuses.add(text as PolicyTaskStatus);
      }
    }
  }

  const chosen = new Map<string, boolean>();
  for (const item of actions.items) {
    const [key, value, keyNode] = singleEntry(item, at, 'an action', ['revokeTokens', 'rotateCredentials']);
    if (chosen.has(key)) at.fail(keyNode, `${key} is given twice`);
    const flag = scalarValue(value);
    if (typeof flag !== 'boolean') at.fail(value, `${key} must be true or false`);
    chosen.set(key, flag);
  }
  const revokeTokens = chosen.get('revokeTokens') ?? false;
  const rotateCredentials = chosen.get('rotateCredentials') ?? false;
  if (!revokeTokens && !rotateCredentials) at.fail(actions, 'no action is enabled: set revokeTokens or rotateCredentials to true');
  if (inactivityWindowSeconds !== undefined && !revokeTokens) {
    // An idle session left alive would match again at every sweep.
    at.fail(actions, 'an inactivityWindow condition needs revokeTokens: true');
  }
  return {
    source: `${at.file}:${at.lineOf(node)}`,
    inactivityWindowSeconds,
    taskStatuses: [...taskStatuses],
    revokeTokens,
    rotateCredentials,
  };
}

/** A list item of the seed's shape: a mapping with exactly one known key. */
function singleEntry(item: unknown, at: YamlLocator, what: string, known: readonly string[]): [string, unknown, unknown] {
  if (!isMap(item) || item.items.length !== 1) at.fail(item, `${what} must be a mapping with one key: ${known.join(' or ')}`);
  const pair = item.items[0]!;
  const key = isScalar(pair.key) ? pair.key.value : undefined;
  if (typeof key !== 'string' || !known.includes(key)) at.fail(pair.key, `unknown ${what.replace(/^an? /, '')} "${String(key)}" (expected ${known.join(' or ')})`);
  if (pair.value === null || pair.value === undefined) at.fail(pair.key, `${key} needs a value`);
  return [key, pair.value, pair.key];
}

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}
