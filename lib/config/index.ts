import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument, LineCounter } from 'yaml';
import { TesseraError } from '../common/errors.js';

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
  };
}

/** What may be set in the YAML file named by TESSERA_CONFIG. */
interface FileSettings {
  tiers?: Partial<Record<SensitivityTier, { sessionLifetimeSeconds?: number }>>;
  saml?: { clockSkewSeconds?: number; assertionLifetimeSeconds?: number; maxMessageBytes?: number };
  agentJwt?: { maxLifetimeSeconds?: number; clockSkewSeconds?: number };
  tasks?: { defaultTtlSeconds?: number; maxTtlSeconds?: number };
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
    http: { maxJsonBytes: 256 * 1024 },
  };
  return deepFreeze(config);
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
};

function readSettingsFile(file: string): FileSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TesseraError('config_invalid', `cannot read TESSERA_CONFIG ${file}: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? 0;
    throw new TesseraError('config_invalid', `${file}:${line}: ${firstError.message.split('\n')[0]}`);
  }
  const settings: unknown = doc.toJS();
  if (settings === null || settings === undefined) return {};
  const problems: string[] = [];
  walkSettings(settings, '', (keyPath, value) => {
    const rule = numericSettings[keyPath];
    const node = doc.getIn(keyPath.split('.'), true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : 0;
    if (!rule) problems.push(`${file}:${line}: unknown setting "${keyPath}"`);
    else if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
      problems.push(`${file}:${line}: "${keyPath}" must be an integer from ${rule.min} to ${rule.max}`);
    }
  });
  if (problems.length > 0) throw new TesseraError('config_invalid', problems[0]!);
  return settings as FileSettings;
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
