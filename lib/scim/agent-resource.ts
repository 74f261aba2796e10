import { randomUUID } from 'node:crypto';
import { TesseraError } from '../common/errors.js';
import { isoSeconds } from '../common/clock.js';
import { parseCidr } from '../common/cidr.js';
import { isSensitivityTier } from '../config/index.js';
import { certificateThumbprint, parseCertificate } from '../keys/index.js';
import { isXmlSafe } from '../saml/index.js';
import type { Agent, AgentCertificate, AgentProfile, NewAgent } from '../agents/index.js';
import { SCIM_SCHEMAS } from './schemas.js';

/** Attributes Tessera interprets; everything else a client sends is kept verbatim. */
const INTERPRETED = new Set(['schemas', 'id', 'meta', 'userName', 'active', 'externalId', 'x509Certificates', SCIM_SCHEMAS.agent]);
const PROFILE_STRINGS = ['owner', 'modelHash', 'sourceCommit', 'trainingDataVersion', 'computeZone'] as const;
const PROFILE_FIELDS = new Set<string>([...PROFILE_STRINGS, 'sensitivityTier', 'allowedCidrs', 'scopes']);
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export type ScimObject = Record<string, unknown>;

function invalid(message: string, scimType = 'invalidValue'): TesseraError {
  return new TesseraError('invalid_value', message, { fields: { scimType } });
}

/** Reads a SCIM User (the agent) as sent to POST /Users. */
export function agentFromScim(body: unknown, now: Date): NewAgent {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a SCIM User object', 'invalidSyntax');
  const user = body as ScimObject;
  const schemas = user.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(SCIM_SCHEMAS.user)) {
    throw invalid(`schemas must include ${SCIM_SCHEMAS.user}`, 'invalidSyntax');
  }
  const userName = user.userName;
  if (typeof userName !== 'string' || userName.trim().length === 0 || userName.length > 256) {
    throw invalid('userName is required: a non-empty string of at most 256 characters');
  }
  assertXmlSafe(userName, 'userName');
  const extraAttributes: ScimObject = {};
  for (const [key, value] of Object.entries(user)) {
    if (!INTERPRETED.has(key) && !isPrototypeKey(key)) extraAttributes[key] = value;
  }
  return {
    id: randomUUID(),
    userName,
    active: user.active === undefined ? true : parseScimBoolean(user.active, 'active'),
    externalId: optionalString(user.externalId, 'externalId'),
    profile: profileFromScim(user[SCIM_SCHEMAS.agent]),
    certificates: certificatesFromScim(user.x509Certificates, now),
    extraAttributes,
  };
}

/** SCIM booleans; Entra ID sends "True"/"False" strings. */
export function parseScimBoolean(value: unknown, attribute: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalid(`${attribute} must be a boolean`);
}

function profileFromScim(value: unknown): AgentProfile {
  if (value === undefined) {
    return { owner: undefined, modelHash: undefined, sourceCommit: undefined, trainingDataVersion: undefined, sensitivityTier: undefined, computeZone: undefined, allowedCidrs: [], scopes: [] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${SCIM_SCHEMAS.agent} must be an object`);
  const extension = value as ScimObject;
  const unknown = Object.keys(extension).find((key) => !PROFILE_FIELDS.has(key));
  if (unknown) throw invalid(`unknown attribute "${unknown}" in ${SCIM_SCHEMAS.agent}`, 'invalidPath');
  const tier = extension.sensitivityTier;
  if (tier !== undefined && !isSensitivityTier(tier)) throw invalid('sensitivityTier must be "high", "medium" or "low"');
  const allowedCidrs = stringList(extension.allowedCidrs, 'allowedCidrs');
  for (const cidr of allowedCidrs) if (!parseCidr(cidr)) throw invalid(`allowedCidrs: "${cidr}" is not an IP address or CIDR range`);
  const scopes = stringList(extension.scopes, 'scopes');
  for (const scope of scopes) if (!SCOPE_PATTERN.test(scope)) throw invalid(`scopes: "${scope}" is not a valid scope token`);
  const strings = Object.fromEntries(PROFILE_STRINGS.map((name) => [name, optionalString(extension[name], name)])) as Record<
    (typeof PROFILE_STRINGS)[number],
    string | undefined
  >;
  return { ...strings, sensitivityTier: tier, allowedCidrs, scopes: [...new Set(scopes)] };
}

function certificatesFromScim(value: unknown, now: Date): AgentCertificate[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('x509Certificates must be an array of { "value": <base64 DER> }');
  const seen = new Map<string, AgentCertificate>();
  for (const entry of value) {
    const text = entry !== null && typeof entry === 'object' && 'value' in entry ? (entry as ScimObject).value : undefined;
    if (typeof text !== 'string') throw invalid('each x509Certificates entry needs a string value');
    let thumbprint: string;
    let pem: string;
    try {
      const certificate = parseCertificate(text);
      thumbprint = certificateThumbprint(certificate);
      pem = certificate.toString();
    } catch {
      throw invalid('an x509Certificates value is not a DER (base64) or PEM X.509 certificate');
    }
    seen.set(thumbprint, { thumbprint, pem, registeredAt: now, retiredAt: undefined });
  }
  return [...seen.values()];
}

/** The agent as a SCIM User resource. */
export function agentToScim(agent: Agent, location: string): ScimObject {
  const profile = agent.profile;
  const extension: ScimObject = {};
  for (const name of PROFILE_STRINGS) if (profile[name] !== undefined) extension[name] = profile[name];
  if (profile.sensitivityTier !== undefined) extension.sensitivityTier = profile.sensitivityTier;
  if (profile.allowedCidrs.length > 0) extension.allowedCidrs = profile.allowedCidrs;
  if (profile.scopes.length > 0) extension.scopes = profile.scopes;
  const extensionSchemas = Object.keys(agent.extraAttributes).filter((key) => key.startsWith('urn:'));
  const hasExtension = Object.keys(extension).length > 0;
  return {
    schemas: [SCIM_SCHEMAS.user, ...extensionSchemas, ...(hasExtension ? [SCIM_SCHEMAS.agent] : [])],
    id: agent.id,
    ...(agent.externalId !== undefined ? { externalId: agent.externalId } : {}),
    userName: agent.userName,
    ...agent.extraAttributes,
    active: agent.active,
    ...(agent.certificates.length > 0
      ? {
          x509Certificates: agent.certificates
            .filter((c) => c.retiredAt === undefined)
            .map((c) => ({ value: c.pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '') })),
        }
      : {}),
    ...(hasExtension ? { [SCIM_SCHEMAS.agent]: extension } : {}),
    meta: {
      resourceType: 'User',
      created: isoSeconds(agent.createdAt),
      lastModified: isoSeconds(agent.updatedAt),
      location,
      version: `W/"${agent.version}"`,
    },
  };
}

function optionalString(value: unknown, attribute: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > 1024) throw invalid(`${attribute} must be a string`);
  assertXmlSafe(value, attribute);
  return value;
}

/** Values reach signed assertions: refuse now what XML 1.0 cannot carry, rather than fail every sign-on later. */
function assertXmlSafe(value: string, attribute: string): void {
  if (!isXmlSafe(value)) throw invalid(`${attribute} contains a character XML cannot carry (a control character or lone surrogate)`);
}

function stringList(value: unknown, attribute: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string') || value.length > 256) {
    throw invalid(`${attribute} must be an array of strings`);
  }
  return value as string[];
}

function isPrototypeKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}
