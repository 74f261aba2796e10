/**
 * Agents as SCIM Users: the canonical document (resource-document.ts) becomes what the
 * agent repository writes, and an Agent becomes the document the server returns.
 * Values that reach signed assertions (userName, the agent extension) must be
 * carriable by XML; certificates must parse; scopes and CIDRs must be well formed.
 */
import { isoSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import { parseCidr } from '../common/cidr.js';
import { isSensitivityTier } from '../config/index.js';
import { certificateThumbprint, parseCertificate } from '../keys/index.js';
import { isXmlSafe } from '../saml/index.js';
import type { Agent, AgentCertificate, AgentProfile, AgentWrite } from '../agents/agent.js';
import { isJsonObject, own, type Json, type JsonObject } from './attribute-path.js';
import { SCIM_SCHEMAS } from './schemas.js';

export const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/; // RFC 6749 scope-token
const PROFILE_STRINGS = ['owner', 'modelHash', 'sourceCommit', 'trainingDataVersion', 'computeZone'] as const;
/** Attributes the agent record holds in its own columns; every other one is kept as extraAttributes. */
const INTERPRETED = new Set(['id', 'meta', 'groups', 'userName', 'active', 'externalId', 'x509Certificates', SCIM_SCHEMAS.agent]);
const MAX_USER_NAME = 256;

function invalid(message: string): TesseraError {
  return new TesseraError('invalid_value', message);
}

/**
 * What a canonical User document asks the agent record to be.
 * @param existing the agent being replaced: an omitted `active` keeps its value (a PUT that
 *   leaves active out must not reactivate a deactivated agent), kept certificates keep their dates.
 */
export function agentWriteFromDocument(document: JsonObject, now: Date, existing: Agent | undefined): AgentWrite {
  const userName = own(document, 'userName');
  if (typeof userName !== 'string' || userName.trim() === '' || userName.length > MAX_USER_NAME) {
    throw invalid(`userName is required: a non-empty string of at most ${MAX_USER_NAME} characters`);
  }
  assertXmlSafe(userName, 'userName');
  const active = own(document, 'active');
  const externalId = own(document, 'externalId');
  const extraAttributes: Record<string, Json> = {};
  for (const [key, value] of Object.entries(document)) if (!INTERPRETED.has(key)) extraAttributes[key] = value;
  return {
    userName,
    active: typeof active === 'boolean' ? active : (existing?.active ?? true),
    externalId: typeof externalId === 'string' ? externalId : undefined,
    profile: profileFromDocument(own(document, SCIM_SCHEMAS.agent)),
    certificates: certificatesFromDocument(own(document, 'x509Certificates'), now, existing),
    extraAttributes,
  };
}

function profileFromDocument(value: Json | undefined): AgentProfile {
  const extension = isJsonObject(value) ? value : {};
  const strings = Object.fromEntries(
    PROFILE_STRINGS.map((name) => {
      const text = own(extension, name);
      if (typeof text === 'string') assertXmlSafe(text, name);
      return [name, typeof text === 'string' ? text : undefined];
    }),
  ) as Record<(typeof PROFILE_STRINGS)[number], string | undefined>;
  const tier = own(extension, 'sensitivityTier');
  if (tier !== undefined && !isSensitivityTier(tier)) throw invalid('sensitivityTier must be "high", "medium" or "low"');
  const allowedCidrs = stringList(own(extension, 'allowedCidrs'));
  for (const cidr of allowedCidrs) if (!parseCidr(cidr)) throw invalid(`allowedCidrs: "${cidr.slice(0, 100)}" is not an IP address or CIDR range`);
  const scopes = stringList(own(extension, 'scopes'));
  for (const scope of scopes) if (!SCOPE_PATTERN.test(scope)) throw invalid(`scopes: "${scope.slice(0, 100)}" is not a valid scope token`);
  return { ...strings, sensitivityTier: tier, allowedCidrs: [...new Set(allowedCidrs)], scopes: [...new Set(scopes)] };
}

function certificatesFromDocument(value: Json | undefined, now: Date, existing: Agent | undefined): AgentCertificate[] {
  const entries = Array.isArray(value) ? value : [];
  const seen = new Map<string, AgentCertificate>();
  for (const entry of entries) {
    const text = isJsonObject(entry) ? own(entry, 'value') : undefined;
    if (typeof text !== 'string') throw invalid('each x509Certificates entry needs a value (base64 DER)');
    let thumbprint: string;
    let pem: string;
    try {
      const certificate = parseCertificate(text);
      thumbprint = certificateThumbprint(certificate);
      pem = certificate.toString();
    } catch {
      throw invalid('an x509Certificates value is not a DER (base64) or PEM X.509 certificate');
    }
    const kept = existing?.certificates.find((c) => c.thumbprint === thumbprint);
    seen.set(thumbprint, { thumbprint, pem, registeredAt: kept?.registeredAt ?? now, retiredAt: undefined });
  }
  return [...seen.values()];
}

/** The agent as a SCIM User resource (its full representation, before any projection). */
export function agentToDocument(agent: Agent, location: string, groupLocation: (id: string) => string): JsonObject {
  const profile = agent.profile;
  const extension: JsonObject = {};
  for (const name of PROFILE_STRINGS) if (profile[name] !== undefined) extension[name] = profile[name] as string;
  if (profile.sensitivityTier !== undefined) extension.sensitivityTier = profile.sensitivityTier;
  if (profile.allowedCidrs.length > 0) extension.allowedCidrs = [...profile.allowedCidrs];
  if (profile.scopes.length > 0) extension.scopes = [...profile.scopes];
  const extra = agent.extraAttributes as Record<string, Json>;
  const extensionSchemas = Object.keys(extra).filter((key) => key.startsWith('urn:'));
  const hasExtension = Object.keys(extension).length > 0;
  const activeCertificates = agent.certificates.filter((c) => c.retiredAt === undefined);
  const document: JsonObject = {
    schemas: [SCIM_SCHEMAS.user, ...extensionSchemas, ...(hasExtension ? [SCIM_SCHEMAS.agent] : [])],
    id: agent.id,
    ...(agent.externalId !== undefined ? { externalId: agent.externalId } : {}),
    userName: agent.userName,
    ...extra,
    active: agent.active,
  };
  if (activeCertificates.length > 0) {
    document.x509Certificates = activeCertificates.map((c) => ({ value: c.pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '') }));
  }
  if (agent.groups.length > 0) {
    document.groups = agent.groups.map((g) => ({ value: g.id, $ref: groupLocation(g.id), display: g.displayName, type: 'direct' }));
  }
  if (hasExtension) document[SCIM_SCHEMAS.agent] = extension;
  document.meta = {
    resourceType: 'User',
    created: isoSeconds(agent.createdAt),
    lastModified: isoSeconds(agent.updatedAt),
    location,
    version: `W/"${agent.version}"`,
  };
  return document;
}

/** Values reach signed assertions: refuse now what XML 1.0 cannot carry, rather than fail every sign-on later. */
function assertXmlSafe(value: string, attribute: string): void {
  if (!isXmlSafe(value)) throw invalid(`${attribute} contains a character XML cannot carry (a control character or lone surrogate)`);
}

function stringList(value: Json | undefined): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
