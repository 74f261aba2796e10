import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { TesseraError } from '../common/errors.js';
import {
  DEFAULT_CLEANUP_POLICY,
  parseCleanupPolicy,
  parseYamlFile,
  readCleanupPolicyFile,
  type CleanupPolicy,
  type YamlLocator,
} from './cleanup-policy.js';
import { DEFAULT_POLICY, parsePolicyConfig, type PolicyConfig } from '../policy/policy-config.js';
import { DEFAULT_ALERTS, parseAlertsConfig, type AlertsConfig } from '../alerts/alerts-config.js';

export { POLICY_TASK_STATUSES, type CleanupPolicy, type PolicyTaskStatus } from './cleanup-policy.js';
export { parseDurationSeconds } from './duration.js';

export const SENSITIVITY_TIERS = ['high', 'medium', 'low'] as const;
export type SensitivityTier = (typeof SENSITIVITY_TIERS)[number];

export function isSensitivityTier(value: unknown): value is SensitivityTier {
  return typeof value === 'string' && (SENSITIVITY_TIERS as readonly string[]).includes(value);
}

export interface Config {
  /** Where the SQLite database, keys and TLS material live. */
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** Public base URL; every endpoint and the entityID derive from it. */
  readonly baseUrl: string;
  /** The IdP entityID: the metadata URL, so it resolves to our metadata. */
  readonly entityId: string;
  readonly endpoints: {
    readonly metadata: string;
    readonly sso: string;
    readonly slo: string;
    readonly initiate: string;
  };
  /** Base64 or hex 256-bit key-encryption key; when absent a key file is generated. */
  readonly masterKey: string | undefined;
  readonly tiers: Readonly<Record<SensitivityTier, { readonly sessionLifetimeSeconds: number }>>;
  readonly saml: {
    /** Allowed difference between an SP's IssueInstant and our clock. */
    readonly clockSkewSeconds: number;
    /** How long a bearer assertion may be presented at the ACS. */
    readonly assertionLifetimeSeconds: number;
    /** Cap on an inbound SAML message, before and after inflation. */
    readonly maxMessageBytes: number;
  };
  readonly agentJwt: {
    /** A client assertion may live at most this long (exp - iat). */
    readonly maxLifetimeSeconds: number;
    readonly clockSkewSeconds: number;
  };
  readonly tasks: {
    readonly defaultTtlSeconds: number;
    readonly maxTtlSeconds: number;
  };
  readonly http: {
    readonly maxJsonBytes: number;
    /**
     * Server processes `tessera start` runs (TESSERA_WORKERS; default one per
     * CPU). Above 1, a primary process prepares the data directory and runs the
     * background jobs, and the workers share the port and the SQLite file.
     */
    readonly workers: number;
  };
  readonly sessions: {
    /** How often the sweeper ends expired, idle and policy-matched sessions. */
    readonly sweepIntervalSeconds: number;
    /** Rows per sweep transaction: short write locks, cost proportional to what ends. */
    readonly sweepBatchSize: number;
  };
  /** automaticRevocation: inline in TESSERA_CONFIG, or in the file named by policyFile. */
  readonly cleanup: CleanupPolicy;
  readonly credentials: {
    /** A certificate registered longer ago than this is refused at sign-on (72 h: the seed's standard). */
    readonly maxAgeSeconds: number;
  };
  readonly keys: {
    /** After `tessera keys rotate`, the next key is published this long before the IdP signs with it. */
    readonly rolloverOverlapSeconds: number;
    /** After the switch, the old key stays in metadata this long, then is retired from it. */
    readonly retireAfterSeconds: number;
    /** Automatic rotation: a key signs for this long before its successor takes over; 0 = only by command. */
    readonly rotationIntervalSeconds: number;
  };
  readonly audit: {
    /** The chain head is signed at least this often while entries are being added. */
    readonly checkpointIntervalSeconds: number;
    /** ...and whenever this many entries were added since the last checkpoint. */
    readonly checkpointEveryEntries: number;
  };
  /** `policy`: sign-on and Tasks API rules, per-SP release, risk thresholds, approvals (lib/policy). */
  readonly policy: PolicyConfig;
  /** `alerts`: webhooks that receive signed security events for every deny, step-up and revoke. */
  readonly alerts: AlertsConfig;
}

/** What may be set in the YAML file named by TESSERA_CONFIG. */
interface FileSettings {
  tiers?: Partial<Record<SensitivityTier, { sessionLifetimeSeconds?: number }>>;
  saml?: { clockSkewSeconds?: number; assertionLifetimeSeconds?: number; maxMessageBytes?: number };
  agentJwt?: { maxLifetimeSeconds?: number; clockSkewSeconds?: number };
  tasks?: { defaultTtlSeconds?: number; maxTtlSeconds?: number };
  sessions?: { sweepIntervalSeconds?: number; sweepBatchSize?: number };
  credentials?: { maxAgeSeconds?: number };
  keys?: { rolloverOverlapSeconds?: number; retireAfterSeconds?: number; rotationIntervalSeconds?: number };
  audit?: { checkpointIntervalSeconds?: number; checkpointEveryEntries?: number };
  /** Parsed from automaticRevocation or policyFile, never walked as a plain setting. */
  cleanup?: CleanupPolicy;
  /** Parsed from the policy and alerts blocks. */
  policy?: PolicyConfig;
  alerts?: AlertsConfig;
}

export interface ConfigInputs {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Overrides the TESSERA_DATA_DIR environment variable (the CLI's --data-dir). */
  readonly dataDir?: string;
  readonly cwd?: string;
}

export function loadConfig(inputs: ConfigInputs): Config {
  const { env } = inputs;
  const cwd = inputs.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, inputs.dataDir ?? env.TESSERA_DATA_DIR ?? './data');
  const host = env.TESSERA_HOST ?? '127.0.0.1';
  const port = parsePort(env.TESSERA_PORT ?? '8443');
  const baseUrl = parseBaseUrl(env.TESSERA_BASE_URL ?? `https://localhost:${port}`);
  const file = env.TESSERA_CONFIG ? readSettingsFile(path.resolve(cwd, env.TESSERA_CONFIG)) : {};

  const tierLifetime = (tier: SensitivityTier, fallback: number) => ({
    sessionLifetimeSeconds: file.tiers?.[tier]?.sessionLifetimeSeconds ?? fallback,
  });
  const config: Config = {
    dataDir,
    host,
    port,
    baseUrl,
    entityId: `${baseUrl}/saml/metadata`,
    endpoints: {
      metadata: `${baseUrl}/saml/metadata`,
      sso: `${baseUrl}/saml/sso`,
      slo: `${baseUrl}/saml/slo`,
      initiate: `${baseUrl}/saml/sso/initiate`,
    },
    masterKey: env.TESSERA_MASTER_KEY || undefined,
    tiers: {
      high: tierLifetime('high', 300),
      medium: tierLifetime('medium', 600),
      low: tierLifetime('low', 900),
    },
    saml: {
      clockSkewSeconds: file.saml?.clockSkewSeconds ?? 180,
      assertionLifetimeSeconds: file.saml?.assertionLifetimeSeconds ?? 300,
      maxMessageBytes: file.saml?.maxMessageBytes ?? 128 * 1024,
    },
    agentJwt: {
      maxLifetimeSeconds: file.agentJwt?.maxLifetimeSeconds ?? 300,
      clockSkewSeconds: file.agentJwt?.clockSkewSeconds ?? 30,
    },
    tasks: {
      defaultTtlSeconds: file.tasks?.defaultTtlSeconds ?? 3600,
      maxTtlSeconds: file.tasks?.maxTtlSeconds ?? 86400,
    },
    http: { maxJsonBytes: 256 * 1024, workers: parseWorkers(env.TESSERA_WORKERS) },
    sessions: {
      sweepIntervalSeconds: file.sessions?.sweepIntervalSeconds ?? 15,
      sweepBatchSize: file.sessions?.sweepBatchSize ?? 500,
    },
    cleanup: file.cleanup ?? DEFAULT_CLEANUP_POLICY,
    credentials: { maxAgeSeconds: file.credentials?.maxAgeSeconds ?? 72 * 3600 },
    keys: {
      rolloverOverlapSeconds: file.keys?.rolloverOverlapSeconds ?? 7 * 86_400,
      retireAfterSeconds: file.keys?.retireAfterSeconds ?? 86_400,
      rotationIntervalSeconds: file.keys?.rotationIntervalSeconds ?? 0,
    },
    audit: {
      checkpointIntervalSeconds: file.audit?.checkpointIntervalSeconds ?? 300,
      checkpointEveryEntries: file.audit?.checkpointEveryEntries ?? 1000,
    },
    policy: file.policy ?? DEFAULT_POLICY,
    alerts: file.alerts ?? DEFAULT_ALERTS,
  };
  return deepFreeze(config);
}

const MAX_WORKERS = 64;

function parseWorkers(raw: string | undefined): number {
  if (raw === undefined || raw === '') return Math.min(availableParallelism(), MAX_WORKERS);
  const workers = Number(raw);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new TesseraError('config_invalid', `TESSERA_WORKERS must be an integer between 1 and ${MAX_WORKERS}, got "${raw}"`);
  }
  return workers;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TesseraError('config_invalid', `TESSERA_PORT must be an integer between 1 and 65535, got "${raw}"`);
  }
  return port;
}

function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TesseraError('config_invalid', `TESSERA_BASE_URL is not a URL: "${raw}"`);
  }
  if (url.protocol !== 'https:') {
    throw new TesseraError('config_invalid', `TESSERA_BASE_URL must be an https URL, got "${raw}"`);
  }
  if (url.search || url.hash) {
    throw new TesseraError('config_invalid', 'TESSERA_BASE_URL must not carry a query or fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

/** Known keys and the checks on their values; anything else in the file is an error. */
const numericSettings: Record<string, { min: number; max: number }> = {
  'tiers.high.sessionLifetimeSeconds': { min: 30, max: 86400 },
  'tiers.medium.sessionLifetimeSeconds': { min: 30, max: 86400 },
  'tiers.low.sessionLifetimeSeconds': { min: 30, max: 86400 },
  'saml.clockSkewSeconds': { min: 0, max: 3600 },
  'saml.assertionLifetimeSeconds': { min: 30, max: 3600 },
  'saml.maxMessageBytes': { min: 4096, max: 4 * 1024 * 1024 },
  'agentJwt.maxLifetimeSeconds': { min: 10, max: 3600 },
  'agentJwt.clockSkewSeconds': { min: 0, max: 600 },
  'tasks.defaultTtlSeconds': { min: 10, max: 30 * 86400 },
  'tasks.maxTtlSeconds': { min: 10, max: 30 * 86400 },
  'sessions.sweepIntervalSeconds': { min: 1, max: 3600 },
  'sessions.sweepBatchSize': { min: 10, max: 100_000 },
  'credentials.maxAgeSeconds': { min: 60, max: 365 * 86400 },
  'keys.rolloverOverlapSeconds': { min: 60, max: 365 * 86400 },
  'keys.retireAfterSeconds': { min: 60, max: 365 * 86400 },
  'keys.rotationIntervalSeconds': { min: 0, max: 10 * 365 * 86400 },
  'audit.checkpointIntervalSeconds': { min: 1, max: 86400 },
  'audit.checkpointEveryEntries': { min: 1, max: 1_000_000 },
};

function readSettingsFile(file: string): FileSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TesseraError('config_invalid', `cannot read TESSERA_CONFIG ${file}: ${(err as Error).message}`);
  }
  const parsed = parseYamlFile(file, text);
  const doc = parsed.doc;
  const at: YamlLocator = parsed.at;
  const settings: unknown = doc.toJS();
  if (settings === null || settings === undefined) return {};
  const { automaticRevocation, policyFile, policy: policyBlock, alerts: alertsBlock, ...plain } = settings as Record<string, unknown>;
  const policy = policyBlock === undefined ? undefined : parsePolicyConfig(doc.get('policy', true), at);
  const alerts = alertsBlock === undefined ? undefined : parseAlertsConfig(doc.get('alerts', true), at);
  const cleanup = cleanupPolicyOf(file, doc.get('automaticRevocation', true), automaticRevocation, doc.get('policyFile', true), policyFile, at);
  const problems: string[] = [];
  walkSettings(plain, '', (keyPath, value) => {
    const rule = numericSettings[keyPath];
    const line = at.lineOf(doc.getIn(keyPath.split('.'), true));
    if (!rule) problems.push(`${file}:${line}: unknown setting "${keyPath}"`);
    else if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
      problems.push(`${file}:${line}: "${keyPath}" must be an integer from ${rule.min} to ${rule.max}`);
    }
  });
  if (problems.length > 0) throw new TesseraError('config_invalid', problems[0]!);
  return { ...(plain as FileSettings), ...(cleanup ? { cleanup } : {}), ...(policy ? { policy } : {}), ...(alerts ? { alerts } : {}) };
}

/** The cleanup policy sits inline (automaticRevocation) or in its own file (policyFile, relative to this one). */
function cleanupPolicyOf(
  file: string,
  inlineNode: unknown,
  inline: unknown,
  policyFileNode: unknown,
  policyFile: unknown,
  at: YamlLocator,
): CleanupPolicy | undefined {
  if (inline !== undefined && policyFile !== undefined) at.fail(policyFileNode, 'set automaticRevocation or policyFile, not both');
  if (inline !== undefined) return parseCleanupPolicy(inlineNode, at);
  if (policyFile === undefined) return undefined;
  if (typeof policyFile !== 'string' || policyFile.trim() === '') at.fail(policyFileNode, 'policyFile must be a file path');
  return readCleanupPolicyFile(path.resolve(path.dirname(file), policyFile));
}

function walkSettings(value: unknown, prefix: string, visit: (keyPath: string, value: unknown) => void): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) walkSettings(child, prefix ? `${prefix}.${key}` : key, visit);
    return;
  }
  visit(prefix, value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
