import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { YamlLocator } from '../config/cleanup-policy.js';
import { parseCidr } from '../common/cidr.js';
import { AGENT_ATTRIBUTE_NAMES } from './attribute-names.js';

export type Tier = 'high' | 'medium' | 'low';
const TIERS: readonly Tier[] = ['high', 'medium', 'low'];
export type RuleEffect = 'deny' | 'step_up' | 'revoke';
const EFFECTS: readonly RuleEffect[] = ['deny', 'step_up', 'revoke'];
export type DecisionPoint = 'signon' | 'task';

/** What one SP may demand and receive. */
export interface SpPolicy {
  /** The agent's own sensitivity tier (its clearance) must be at least this. */
  readonly minimumTier: Tier | undefined;
  /** Scopes this SP may receive; undefined means any the task grants. */
  readonly allowedScopes: readonly string[] | undefined;
  /** Attribute names released to this SP; undefined means all. */
  readonly releaseAttributes: readonly string[] | undefined;
}

/** Every listed condition must hold for the rule to apply; an empty `when` always applies. */
export interface RuleConditions {
  readonly on: readonly DecisionPoint[] | undefined;
  readonly spEntityIds: readonly string[] | undefined;
  readonly taskTiers: readonly Tier[] | undefined;
  readonly agentTiers: readonly Tier[] | undefined;
  readonly owners: readonly string[] | undefined;
  readonly computeZones: readonly string[] | undefined;
  /** The source address is in one of these ranges. */
  readonly sourceCidrs: readonly string[] | undefined;
  /** The source address is in none of these ranges. */
  readonly notSourceCidrs: readonly string[] | undefined;
  /** UTC hours [from, to): wraps past midnight when from > to. */
  readonly hoursUtc: { readonly from: number; readonly to: number } | undefined;
  /** The task asks for any of these scopes. */
  readonly scopes: readonly string[] | undefined;
  readonly minTaskAgeSeconds: number | undefined;
  readonly minRiskScore: number | undefined;
}

export interface PolicyRule {
  readonly id: string;
  readonly effect: RuleEffect;
  readonly when: RuleConditions;
}

export interface PolicyConfig {
  readonly modelHashes: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  /** Compute zones an agent may run in; empty means any. */
  readonly computeZones: readonly string[];
  readonly maxTaskAgeSeconds: number | undefined;
  readonly risk: {
    /** Scoring on or off; off, the score is 0 and no baseline is kept. */
    readonly enabled: boolean;
    readonly stepUpAt: number;
    readonly revokeAt: number;
  };
  readonly approvals: {
    /** A pending request not decided within this long counts as denied. */
    readonly requestTtlSeconds: number;
    /** An approval lets the next sign-on through within this long of being granted. */
    readonly validForSeconds: number;
  };
  readonly serviceProviders: Readonly<Record<string, SpPolicy>>;
  readonly rules: readonly PolicyRule[];
}

export const DEFAULT_POLICY: PolicyConfig = {
  modelHashes: { allow: [], deny: [] },
  computeZones: [],
  maxTaskAgeSeconds: undefined,
  risk: { enabled: true, stepUpAt: 0.5, revokeAt: 0.9 },
  approvals: { requestTtlSeconds: 900, validForSeconds: 300 },
  serviceProviders: {},
  rules: [],
};

export function tierRank(tier: Tier | undefined): number {
  return tier === 'high' ? 3 : tier === 'medium' ? 2 : tier === 'low' ? 1 : 0;
}

/** Validates the `policy` block of TESSERA_CONFIG; every refusal names its line. */
export function parsePolicyConfig(node: unknown, at: YamlLocator): PolicyConfig {
  const root = mapping(node, at, 'policy', ['modelHashes', 'computeZones', 'maxTaskAgeSeconds', 'risk', 'approvals', 'serviceProviders', 'rules']);
  const hashes = optionalMapping(root.get('modelHashes', true), at, 'policy.modelHashes', ['allow', 'deny']);
  const risk = optionalMapping(root.get('risk', true), at, 'policy.risk', ['enabled', 'stepUpAt', 'revokeAt']);
  const approvals = optionalMapping(root.get('approvals', true), at, 'policy.approvals', ['requestTtlSeconds', 'validForSeconds']);
  const stepUpAt = optionalNumber(risk?.get('stepUpAt', true), at, 'stepUpAt', 0, 1) ?? DEFAULT_POLICY.risk.stepUpAt;
  const revokeAt = optionalNumber(risk?.get('revokeAt', true), at, 'revokeAt', 0, 1) ?? DEFAULT_POLICY.risk.revokeAt;
  if (revokeAt < stepUpAt) at.fail(risk?.get('revokeAt', true), 'revokeAt must be at least stepUpAt');
  return {
    modelHashes: {
      allow: stringList(hashes?.get('allow', true), at, 'allow') ?? [],
      deny: stringList(hashes?.get('deny', true), at, 'deny') ?? [],
    },
    computeZones: stringList(root.get('computeZones', true), at, 'computeZones') ?? [],
    maxTaskAgeSeconds: optionalInteger(root.get('maxTaskAgeSeconds', true), at, 'maxTaskAgeSeconds', 1, 365 * 86_400),
    risk: {
      enabled: optionalBoolean(risk?.get('enabled', true), at, 'enabled') ?? DEFAULT_POLICY.risk.enabled,
      stepUpAt,
      revokeAt,
    },
    approvals: {
      requestTtlSeconds:
        optionalInteger(approvals?.get('requestTtlSeconds', true), at, 'requestTtlSeconds', 10, 7 * 86_400) ??
        DEFAULT_POLICY.approvals.requestTtlSeconds,
      validForSeconds:
        optionalInteger(approvals?.get('validForSeconds', true), at, 'validForSeconds', 10, 86_400) ?? DEFAULT_POLICY.approvals.validForSeconds,
    },
    serviceProviders: parseServiceProviders(root.get('serviceProviders', true), at),
    rules: parseRules(root.get('rules', true), at),
  };
}

function parseServiceProviders(node: unknown, at: YamlLocator): Record<string, SpPolicy> {
  if (node === undefined) return {};
  if (!isMap(node)) at.fail(node, 'policy.serviceProviders must map SP entityIDs to their policy');
  const result: Record<string, SpPolicy> = {};
  for (const pair of (node as YAMLMap).items) {
    const entityId = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined;
    if (!entityId) at.fail(pair.key, 'an SP entityID must be a string');
    const sp = mapping(pair.value, at, `serviceProviders["${entityId}"]`, ['minimumTier', 'allowedScopes', 'releaseAttributes']);
    const release = stringList(sp.get('releaseAttributes', true), at, 'releaseAttributes');
    for (const name of release ?? []) {
      if (!AGENT_ATTRIBUTE_NAMES.includes(name)) {
        at.fail(sp.get('releaseAttributes', true), `unknown attribute "${name}" (expected ${AGENT_ATTRIBUTE_NAMES.join(', ')})`);
      }
    }
    result[entityId] = {
      minimumTier: optionalTier(sp.get('minimumTier', true), at, 'minimumTier'),
      allowedScopes: stringList(sp.get('allowedScopes', true), at, 'allowedScopes'),
      releaseAttributes: release,
    };
  }
  return result;
}

const CONDITION_KEYS = [
  'on',
  'spEntityIds',
  'taskTiers',
  'agentTiers',
  'owners',
  'computeZones',
  'sourceCidrs',
  'notSourceCidrs',
  'hoursUtc',
  'scopes',
  'minTaskAgeSeconds',
  'minRiskScore',
];

function parseRules(node: unknown, at: YamlLocator): PolicyRule[] {
  if (node === undefined) return [];
  if (!isSeq(node)) at.fail(node, 'policy.rules must be a list');
  const seen = new Set<string>();
  return node.items.map((item) => {
    const rule = mapping(item, at, 'a rule', ['id', 'effect', 'when']);
    const idNode = rule.get('id', true);
    const id = isScalar(idNode) && typeof idNode.value === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(idNode.value) ? idNode.value : undefined;
    if (!id) at.fail(idNode ?? rule, 'a rule needs an id of 1-64 letters, digits, dots, dashes or underscores');
    if (seen.has(id)) at.fail(idNode, `duplicate rule id "${id}"`);
    seen.add(id);
    const effectNode = rule.get('effect', true);
    const effect = isScalar(effectNode) ? (effectNode.value as RuleEffect) : undefined;
    if (!effect || !EFFECTS.includes(effect)) at.fail(effectNode ?? rule, `effect must be one of ${EFFECTS.join(', ')}`);
    const whenNode = rule.get('when', true);
    const when = whenNode === undefined ? undefined : mapping(whenNode, at, 'when', CONDITION_KEYS);
    const cidrs = (key: string) => {
      const list = stringList(when?.get(key, true), at, key);
      for (const cidr of list ?? []) if (!parseCidr(cidr)) at.fail(when?.get(key, true), `"${cidr}" is not a CIDR range`);
      return list;
    };
    const onList = stringList(when?.get('on', true), at, 'on');
    for (const point of onList ?? []) if (point !== 'signon' && point !== 'task') at.fail(when?.get('on', true), 'on lists signon and/or task');
    const hoursNode = when?.get('hoursUtc', true);
    const hours = hoursNode === undefined ? undefined : mapping(hoursNode, at, 'hoursUtc', ['from', 'to']);
    return {
      id,
      effect,
      when: {
        on: onList as DecisionPoint[] | undefined,
        spEntityIds: stringList(when?.get('spEntityIds', true), at, 'spEntityIds'),
        taskTiers: tierList(when?.get('taskTiers', true), at, 'taskTiers'),
        agentTiers: tierList(when?.get('agentTiers', true), at, 'agentTiers'),
        owners: stringList(when?.get('owners', true), at, 'owners'),
        computeZones: stringList(when?.get('computeZones', true), at, 'computeZones'),
        sourceCidrs: cidrs('sourceCidrs'),
        notSourceCidrs: cidrs('notSourceCidrs'),
        hoursUtc: hours
          ? {
              from: requiredInteger(hours.get('from', true), at, 'from', 0, 23, hours),
              to: requiredInteger(hours.get('to', true), at, 'to', 0, 24, hours),
            }
          : undefined,
        scopes: stringList(when?.get('scopes', true), at, 'scopes'),
        minTaskAgeSeconds: optionalInteger(when?.get('minTaskAgeSeconds', true), at, 'minTaskAgeSeconds', 0, 365 * 86_400),
        minRiskScore: optionalNumber(when?.get('minRiskScore', true), at, 'minRiskScore', 0, 1),
      },
    };
  });
}

function mapping(node: unknown, at: YamlLocator, name: string, keys: readonly string[]): YAMLMap {
  if (!isMap(node)) at.fail(node, `${name} must be a mapping`);
  const map = node as YAMLMap;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (!key || !keys.includes(key)) at.fail(pair.key, `unknown key "${String(key)}" in ${name} (expected ${keys.join(', ')})`);
  }
  return map;
}

function optionalMapping(node: unknown, at: YamlLocator, name: string, keys: readonly string[]): YAMLMap | undefined {
  return node === undefined ? undefined : mapping(node, at, name, keys);
}

function stringList(node: unknown, at: YamlLocator, name: string): string[] | undefined {
  if (node === undefined) return undefined;
  if (!isSeq(node)) at.fail(node, `${name} must be a list of strings`);
  return node.items.map((item) => {
    if (!isScalar(item) || typeof item.value !== 'string' || item.value === '') at.fail(item, `${name} must be a list of non-empty strings`);
    return item.value;
  });
}

function tierList(node: unknown, at: YamlLocator, name: string): Tier[] | undefined {
  const list = stringList(node, at, name);
  for (const tier of list ?? []) if (!TIERS.includes(tier as Tier)) at.fail(node, `${name} lists tiers: high, medium, low`);
  return list as Tier[] | undefined;
}

function optionalTier(node: unknown, at: YamlLocator, name: string): Tier | undefined {
  if (node === undefined) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (!TIERS.includes(value as Tier)) at.fail(node, `${name} must be high, medium or low`);
  return value as Tier;
}

function optionalNumber(node: unknown, at: YamlLocator, name: string, min: number, max: number): number | undefined {
  if (node === undefined) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) at.fail(node, `${name} must be a number from ${min} to ${max}`);
  return value;
}

function optionalInteger(node: unknown, at: YamlLocator, name: string, min: number, max: number): number | undefined {
  if (node === undefined) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) at.fail(node, `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function requiredInteger(node: unknown, at: YamlLocator, name: string, min: number, max: number, parent: unknown): number {
  if (node === undefined) at.fail(parent, `${name} is required`);
  return optionalInteger(node, at, name, min, max)!;
}

function optionalBoolean(node: unknown, at: YamlLocator, name: string): boolean | undefined {
  if (node === undefined) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== 'boolean') at.fail(node, `${name} must be true or false`);
  return value;
}
