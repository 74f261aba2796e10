/**
 * LogoutRequest, both ways. Outbound (back channel): built through the escaping builder
 * and signed like every message we send. Inbound (SP-initiated SLO): decoded from the
 * HTTP-Redirect or HTTP-POST binding, its signature verified with the SP's registered
 * keys before any field is read, and then read only from what the signature covers.
 */
import { inflateRawSync } from 'node:zlib';
import type { Element } from '@xmldom/xmldom';
import type { SigningKey } from '../keys/index.js';
import { isoSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import type { ReplayCache } from '../common/replay-cache.js';
import { parseInstant } from './authn-request.js';
import { NS } from './namespaces.js';
import type { ServiceProvider } from './service-provider.js';
import { qualified, signEnveloped } from './signing.js';
import { verifyEnvelopedSignature, verifyQuerySignature } from './signature-verification.js';
import { assertId, element } from './xml-builder.js';
import { attribute, childrenNamed, descendantsNamed, isNamed, parseSafeXml, rootElement, trimmedText } from './xml.js';
import { validateSamlMessage } from './schema-validation.js';

export const LOGOUT_REASON = {
  admin: 'urn:oasis:names:tc:SAML:2.0:logout:admin',
  user: 'urn:oasis:names:tc:SAML:2.0:logout:user',
} as const;

export interface LogoutRequestInput {
  readonly id: string;
  readonly issuer: string;
  readonly destination: string;
  readonly issueInstant: Date;
  readonly notOnOrAfter: Date;
  readonly reason: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex: string;
}

const REQUEST_XPATH = `/${qualified(NS.protocol, 'LogoutRequest')}`;

/** A signed samlp:LogoutRequest naming one session (NameID + SessionIndex). */
export function buildLogoutRequest(input: LogoutRequestInput, key: SigningKey): string {
  const unsigned = element(
    'samlp:LogoutRequest',
    {
      'xmlns:samlp': NS.protocol,
      'xmlns:saml': NS.assertion,
      ID: assertId(input.id),
      Version: '2.0',
      IssueInstant: isoSeconds(input.issueInstant),
      Destination: input.destination,
      NotOnOrAfter: isoSeconds(input.notOnOrAfter),
      Reason: input.reason,
    },
    [
      element('saml:Issuer', {}, [input.issuer]),
      element('saml:NameID', { Format: input.nameIdFormat }, [input.nameId]),
      element('samlp:SessionIndex', {}, [input.sessionIndex]),
    ],
  );
  return signEnveloped(unsigned.toString(), { element: REQUEST_XPATH, after: `${REQUEST_XPATH}/${qualified(NS.assertion, 'Issuer')}` }, key);
}

// ---------------------------------------------------------------------------------------------
// inbound

export type InboundSamlMessage =
  /** rawQueryString: exactly as received, so the signed octets stay intact. */
  | { readonly binding: 'redirect'; readonly rawQueryString: string }
  | { readonly binding: 'post'; readonly message: string; readonly relayState: string | undefined };

export interface DecodedLogoutRequest {
  readonly binding: 'redirect' | 'post';
  readonly xml: string;
  readonly relayState: string | undefined;
  /** Only for finding the SP whose keys verify the request. */
  readonly unverifiedIssuer: string;
  readonly querySignature: { readonly signedOctets: string; readonly sigAlg: string; readonly signature: string } | undefined;
}

export interface LogoutRequest {
  readonly id: string;
  readonly issuer: string;
  readonly version: string;
  readonly issueInstant: Date;
  readonly destination: string | undefined;
  readonly notOnOrAfter: Date | undefined;
  readonly nameId: string;
  readonly nameIdFormat: string | undefined;
  readonly sessionIndexes: readonly string[];
}

const MAX_RELAY_STATE_BYTES = 80;
const QUERY_PARAMETERS = ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'] as const;
type QueryParameter = (typeof QUERY_PARAMETERS)[number];

function malformed(message: string): TesseraError {
  return new TesseraError('saml_malformed_request', message);
}

export function decodeLogoutRequest(inbound: InboundSamlMessage, maxMessageBytes: number): DecodedLogoutRequest {
  let xml: string;
  let relayState: string | undefined;
  let querySignature: DecodedLogoutRequest['querySignature'];
  if (inbound.binding === 'redirect') {
    const raw = parseRawQuery(inbound.rawQueryString);
    if (raw.has('SAMLResponse')) throw malformed('this IdP sends no front-channel LogoutRequests, so it takes no LogoutResponse here');
    const message = raw.get('SAMLRequest');
    if (message === undefined) throw malformed('the query has no SAMLRequest parameter');
    xml = utf8(inflate(strictBase64(formDecode(message), maxMessageBytes), maxMessageBytes));
    relayState = raw.has('RelayState') ? formDecode(raw.get('RelayState') as string) : undefined;
    const sigAlg = raw.get('SigAlg');
    const signature = raw.get('Signature');
    if ((sigAlg === undefined) !== (signature === undefined)) throw malformed('SigAlg and Signature must be sent together');
    if (sigAlg !== undefined && signature !== undefined) {
      const signedOctets = `SAMLRequest=${message}` + (raw.has('RelayState') ? `&RelayState=${raw.get('RelayState')}` : '') + `&SigAlg=${sigAlg}`;
      querySignature = { signedOctets, sigAlg: formDecode(sigAlg), signature: formDecode(signature) };
    }
  } else {
    xml = utf8(strictBase64(inbound.message.replace(/[\r\n\t ]/g, ''), maxMessageBytes));
    relayState = inbound.relayState;
  }
  if (relayState !== undefined && Buffer.byteLength(relayState, 'utf8') > MAX_RELAY_STATE_BYTES) throw malformed(`RelayState exceeds ${MAX_RELAY_STATE_BYTES} bytes`);
  const root = rootElement(parseSafeXml(xml, { maxBytes: maxMessageBytes }, 'saml_malformed_request', 'the LogoutRequest'));
  if (!isNamed(root, NS.protocol, 'LogoutRequest')) throw malformed(`the message is a ${root.nodeName}, not a samlp:LogoutRequest`);
  // Before any field is read or any signature checked: the message must be what the OASIS schema allows.
  validateSamlMessage(xml, 'LogoutRequest');
  return { binding: inbound.binding, xml, relayState, unverifiedIssuer: readIssuer(root), querySignature };
}

/**
 * SAML profiles §4.4.4.1: a front-channel LogoutRequest MUST be signed; it is verified with
 * the SP's registered signing certificates and read only from the authenticated content.
 */
export function verifyLogoutRequest(decoded: DecodedLogoutRequest, sp: ServiceProvider): LogoutRequest {
  let root: Element;
  const document = parseSafeXml(decoded.xml, { maxBytes: Buffer.byteLength(decoded.xml) + 1 }, 'saml_malformed_request', 'the LogoutRequest');
  if (decoded.binding === 'redirect') {
    if (descendantsNamed(document, NS.xmldsig, 'Signature').length > 0) {
      throw new TesseraError('saml_signature_invalid', 'an HTTP-Redirect LogoutRequest must be signed in the query, not in the XML');
    }
    if (decoded.querySignature === undefined) throw new TesseraError('saml_signature_required', 'a LogoutRequest must be signed');
    const { signedOctets, sigAlg, signature } = decoded.querySignature;
    verifyQuerySignature(signedOctets, sigAlg, signature, sp.signingCertificates);
    root = rootElement(document);
  } else {
    if (descendantsNamed(document, NS.xmldsig, 'Signature').length === 0) throw new TesseraError('saml_signature_required', 'a LogoutRequest must be signed');
    const signedXml = verifyEnvelopedSignature(decoded.xml, document, sp.signingCertificates);
    const limit = Buffer.byteLength(decoded.xml, 'utf8') * 4 + 4096;
    root = rootElement(parseSafeXml(signedXml, { maxBytes: limit }, 'saml_signature_invalid', 'the signed LogoutRequest'));
    if (!isNamed(root, NS.protocol, 'LogoutRequest')) throw new TesseraError('saml_signature_invalid', 'the signature does not cover the LogoutRequest');
  }
  const request = readLogoutRequest(root);
  if (request.issuer !== sp.entityId) throw new TesseraError('saml_signature_invalid', 'the LogoutRequest Issuer is not the SP it was verified for');
  return request;
}

const REQUEST_ID = /^[\p{L}_][\p{L}\p{N}._\-\u00B7\u0300-\u036F\u203F\u2040]*$/u;

function readLogoutRequest(root: Element): LogoutRequest {
  const id = attribute(root, 'ID');
  if (id === undefined || id.length > 256 || !REQUEST_ID.test(id)) throw malformed('the LogoutRequest ID is missing or not an xs:NCName of at most 256 characters');
  const version = attribute(root, 'Version');
  if (version === undefined) throw malformed('the LogoutRequest has no Version');
  if (childrenNamed(root, NS.assertion, 'EncryptedID').length > 0 || childrenNamed(root, NS.assertion, 'BaseID').length > 0) {
    throw malformed('the LogoutRequest must name the principal with a saml:NameID');
  }
  const nameIds = childrenNamed(root, NS.assertion, 'NameID');
  if (nameIds.length !== 1) throw malformed('the LogoutRequest must carry exactly one saml:NameID');
  const nameIdElement = nameIds[0] as Element;
  const notOnOrAfter = attribute(root, 'NotOnOrAfter');
  return {
    id,
    issuer: readIssuer(root),
    version,
    issueInstant: parseInstant(attribute(root, 'IssueInstant')),
    destination: attribute(root, 'Destination'),
    notOnOrAfter: notOnOrAfter === undefined ? undefined : parseInstant(notOnOrAfter),
    nameId: trimmedText(nameIdElement),
    nameIdFormat: attribute(nameIdElement, 'Format'),
    sessionIndexes: childrenNamed(root, NS.protocol, 'SessionIndex').map(trimmedText),
  };
}

function readIssuer(root: Element): string {
  const issuers = childrenNamed(root, NS.assertion, 'Issuer');
  if (issuers.length !== 1) throw malformed('the LogoutRequest must have exactly one saml:Issuer');
  const value = trimmedText(issuers[0] as Element);
  if (value === '') throw malformed('the saml:Issuer is empty');
  return value;
}

export interface LogoutRequestCheckDeps {
  readonly now: Date;
  readonly sloUrl: string;
  readonly clockSkewSeconds: number;
  readonly replay: ReplayCache;
  readonly replayTtlSeconds: number;
}

/** Version, Destination (required: the request is signed), freshness, expiry, then replay last. */
export async function checkLogoutRequest(request: LogoutRequest, deps: LogoutRequestCheckDeps): Promise<void> {
  if (request.version !== '2.0') throw new TesseraError('saml_version_mismatch', `SAML Version ${request.version} is not supported; use 2.0`);
  if (request.destination !== deps.sloUrl) throw new TesseraError('saml_wrong_destination', "the LogoutRequest Destination is not this IdP's SLO endpoint");
  const skew = deps.clockSkewSeconds * 1000;
  if (Math.abs(request.issueInstant.getTime() - deps.now.getTime()) > skew) {
    throw new TesseraError('saml_request_stale', `the LogoutRequest IssueInstant is more than ${deps.clockSkewSeconds} s from now`);
  }
  if (request.notOnOrAfter !== undefined && deps.now.getTime() >= request.notOnOrAfter.getTime() + skew) {
    throw new TesseraError('saml_request_stale', 'the LogoutRequest has expired (NotOnOrAfter)');
  }
  const expiresAt = new Date(deps.now.getTime() + deps.replayTtlSeconds * 1000);
  if (!(await deps.replay.checkAndStore(`logout-request:${request.issuer}`, request.id, expiresAt, deps.now))) {
    throw new TesseraError('saml_request_replayed', 'this LogoutRequest ID has already been used');
  }
}

function parseRawQuery(query: string): Map<QueryParameter, string> {
  const raw = new Map<QueryParameter, string>();
  for (const pair of query.split('&')) {
    const separator = pair.indexOf('=');
    const name = separator === -1 ? pair : pair.slice(0, separator);
    const known = QUERY_PARAMETERS.find((parameter) => parameter === name);
    if (known === undefined) continue;
    if (raw.has(known)) throw malformed(`the query repeats the ${known} parameter`);
    raw.set(known, separator === -1 ? '' : pair.slice(separator + 1));
  }
  return raw;
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw malformed('a query parameter is not valid percent-encoding');
  }
}

function strictBase64(value: string, maxBytes: number): Buffer {
  if (value === '' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw malformed('the SAML message is not valid base64');
  if ((value.length / 4) * 3 - 2 > maxBytes) throw malformed(`the SAML message exceeds ${maxBytes} bytes`);
  return Buffer.from(value, 'base64');
}

function inflate(compressed: Buffer, maxBytes: number): Buffer {
  try {
    return inflateRawSync(compressed, { maxOutputLength: maxBytes });
  } catch (error) {
    throw malformed(error instanceof RangeError ? `the inflated message exceeds ${maxBytes} bytes` : 'the message is not raw DEFLATE data');
  }
}

function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed('the SAML message is not valid UTF-8');
  }
}
