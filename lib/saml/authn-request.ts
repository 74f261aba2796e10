/**
 * Inbound AuthnRequest: decode (binding) → verify (signature, against the SP's registered
 * keys) → select the ACS → check (version, destination, time, replay, NameID policy).
 * No field is read from a signed request before its signature has been checked, and then
 * only from the bytes the signature covers (samlify issue #634 is what happens otherwise).
 */
import { inflateRawSync } from 'node:zlib';
import type { Document, Element } from '@xmldom/xmldom';
import { TesseraError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';
import type { ReplayCache } from '../common/replay-cache.js';
import { BINDINGS } from './service-provider.js';
import type { ServiceProvider, SpEndpoint } from './service-provider.js';
import { isUsableAssertionConsumerService } from './sp-metadata.js';
import { verifyEnvelopedSignature, verifyQuerySignature } from './signature-verification.js';
import { validateSamlMessage } from './schema-validation.js';
import { NS, attribute, childrenNamed, descendantsNamed, isNamed, parseSafeXml, parseXsBoolean, rootElement, trimmedText } from './xml.js';

export interface AuthnRequest {
  readonly id: string;
  readonly issuer: string;
  readonly issueInstant: Date;
  readonly version: string;
  readonly destination: string | undefined;
  readonly assertionConsumerServiceUrl: string | undefined;
  readonly assertionConsumerServiceIndex: number | undefined;
  readonly protocolBinding: string | undefined;
  readonly nameIdFormat: string | undefined;
  readonly forceAuthn: boolean;
  readonly isPassive: boolean;
  /** Whether a signature was present and verified: a signed request must name its Destination. */
  readonly signed: boolean;
}

export type InboundAuthnRequest =
  /** rawQueryString: the query exactly as received, without '?', so signed octets stay intact. */
  | { readonly binding: 'redirect'; readonly rawQueryString: string }
  | { readonly binding: 'post'; readonly samlRequest: string; readonly relayState: string | undefined };

/** HTTP-Redirect signature material, kept as the raw URL octets the SP signed. */
export interface QuerySignature {
  /** `SAMLRequest=…[&RelayState=…]&SigAlg=…` with every value exactly as encoded in the URL. */
  readonly signedOctets: string;
  /** The SigAlg value, URL-decoded. */
  readonly sigAlg: string;
  /** The Signature value, URL-decoded (base64). */
  readonly signature: string;
}

export interface DecodedAuthnRequest {
  readonly binding: 'redirect' | 'post';
  readonly xml: string;
  /** Unauthenticated: read only through verifyAuthnRequest. */
  readonly document: Document;
  readonly relayState: string | undefined;
  /** Only for finding the SP whose keys verify the request; never trusted as the sender. */
  readonly unverifiedIssuer: string;
  /** Present when an HTTP-Redirect request carried SigAlg and Signature. */
  readonly querySignature: QuerySignature | undefined;
}

/** SAML bindings §3.4.3 / §3.5.3: RelayState MUST NOT exceed 80 bytes. */
export const MAX_RELAY_STATE_BYTES = 80;

const NAMEID_FORMATS_ACCEPTED = new Set([
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
]);
const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';
const REDIRECT_PARAMETERS = ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'] as const;
type RedirectParameter = (typeof REDIRECT_PARAMETERS)[number];

function malformed(message: string): TesseraError {
  return new TesseraError('saml_malformed_request', message);
}

// ---------------------------------------------------------------------------------------------
// decode

export function decodeAuthnRequest(inbound: InboundAuthnRequest, limits: { maxMessageBytes: number }): DecodedAuthnRequest {
  const decoded = inbound.binding === 'redirect' ? decodeRedirect(inbound.rawQueryString, limits.maxMessageBytes) : decodePost(inbound, limits.maxMessageBytes);
  checkRelayState(decoded.relayState);
  const document = parseSafeXml(decoded.xml, { maxBytes: limits.maxMessageBytes }, 'saml_malformed_request', 'the AuthnRequest');
  const root = rootElement(document);
  if (!isNamed(root, NS.protocol, 'AuthnRequest')) throw malformed(`the message is a ${root.nodeName}, not a samlp:AuthnRequest`);
  // Before any field is read, even the unverified Issuer: the message must have the shape the standard gives it.
  validateSamlMessage(decoded.xml, 'AuthnRequest', 'saml_malformed_request');
  return { binding: inbound.binding, ...decoded, document, unverifiedIssuer: readIssuer(root) };
}

interface DecodedTransport {
  readonly xml: string;
  readonly relayState: string | undefined;
  readonly querySignature: QuerySignature | undefined;
}

function decodeRedirect(rawQueryString: string, maxMessageBytes: number): DecodedTransport {
  const raw = parseRawQuery(rawQueryString);
  const samlRequest = raw.get('SAMLRequest');
  if (samlRequest === undefined) throw malformed('the query has no SAMLRequest parameter');
  const compressed = decodeBase64(formDecode(samlRequest), maxMessageBytes);
  const relayState = optionalDecoded(raw, 'RelayState');
  return { xml: utf8(inflate(compressed, maxMessageBytes)), relayState, querySignature: querySignature(raw) };
}

/**
 * Splits the query by hand: URLSearchParams would hand back decoded values, and the signature
 * covers the encoded ones. Repeated SAML parameters are refused, since which copy a verifier
 * and a reader would each pick is exactly what parameter pollution exploits.
 */
function parseRawQuery(query: string): Map<RedirectParameter, string> {
  const raw = new Map<RedirectParameter, string>();
  for (const pair of query.split('&')) {
    const separator = pair.indexOf('=');
    const name = separator === -1 ? pair : pair.slice(0, separator);
    const known = REDIRECT_PARAMETERS.find((parameter) => parameter === name);
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

function optionalDecoded(raw: Map<RedirectParameter, string>, name: RedirectParameter): string | undefined {
  const value = raw.get(name);
  return value === undefined ? undefined : formDecode(value);
}

function querySignature(raw: Map<RedirectParameter, string>): QuerySignature | undefined {
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if (sigAlg === undefined && signature === undefined) return undefined;
  if (sigAlg === undefined || signature === undefined) throw malformed('SigAlg and Signature must be sent together');
  const relayState = raw.get('RelayState');
  const signedOctets =
    `SAMLRequest=${raw.get('SAMLRequest') ?? ''}` + (relayState === undefined ? '' : `&RelayState=${relayState}`) + `&SigAlg=${sigAlg}`;
  return { signedOctets, sigAlg: formDecode(sigAlg), signature: formDecode(signature) };
}

/** The cap applies while inflating: a 1 KB deflate bomb never grows past maxMessageBytes. */
function inflate(compressed: Buffer, maxMessageBytes: number): Buffer {
  try {
    return inflateRawSync(compressed, { maxOutputLength: maxMessageBytes });
  } catch (error) {
    // zlib reports the cap as a RangeError (ERR_BUFFER_TOO_LARGE), corrupt input as a plain Error.
    const tooLarge = error instanceof RangeError;
    throw malformed(tooLarge ? `the inflated SAMLRequest exceeds ${maxMessageBytes} bytes` : 'the SAMLRequest is not raw DEFLATE data');
  }
}

function decodePost(inbound: { readonly samlRequest: string; readonly relayState: string | undefined }, maxMessageBytes: number): DecodedTransport {
  // Line breaks are tolerated: MIME-style encoders wrap base64 at 76 columns.
  const body = inbound.samlRequest.replace(/[\r\n\t ]/g, '');
  return { xml: utf8(decodeBase64(body, maxMessageBytes)), relayState: inbound.relayState, querySignature: undefined };
}

/** Strict base64: Buffer.from would silently skip characters that are not base64. */
function decodeBase64(value: string, maxBytes: number): Buffer {
  if (value === '') throw malformed('SAMLRequest is empty');
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw malformed('SAMLRequest is not valid base64');
  if ((value.length / 4) * 3 - 2 > maxBytes) throw malformed(`SAMLRequest exceeds ${maxBytes} bytes`);
  return Buffer.from(value, 'base64');
}

function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed('the SAMLRequest is not valid UTF-8');
  }
}

function checkRelayState(relayState: string | undefined): void {
  if (relayState !== undefined && Buffer.byteLength(relayState, 'utf8') > MAX_RELAY_STATE_BYTES) {
    throw malformed(`RelayState exceeds ${MAX_RELAY_STATE_BYTES} bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// verify

/**
 * Verifies the request's signature with the SP's registered certificates and returns the
 * request as read from authenticated content (or from the document, when the SP allows
 * unsigned requests and none was signed).
 * @throws TesseraError saml_signature_required | saml_signature_invalid | saml_malformed_request | saml_unknown_sp
 */
export function verifyAuthnRequest(decoded: DecodedAuthnRequest, sp: ServiceProvider): AuthnRequest {
  const verified = decoded.binding === 'redirect' ? verifyRedirect(decoded, sp) : verifyPost(decoded, sp);
  if (verified === undefined && sp.authnRequestsSigned) {
    throw new TesseraError('saml_signature_required', 'the SP registered AuthnRequestsSigned, but the request is not signed');
  }
  const request = readAuthnRequest(verified ?? rootElement(decoded.document), verified !== undefined);
  if (request.issuer !== sp.entityId) {
    const code: ErrorCode = request.signed ? 'saml_signature_invalid' : 'saml_unknown_sp';
    throw new TesseraError(code, 'the AuthnRequest Issuer is not the entityID of the SP it was verified for');
  }
  return request;
}

/** The authenticated root when the request was signed, undefined when it was not. */
function verifyRedirect(decoded: DecodedAuthnRequest, sp: ServiceProvider): Element | undefined {
  // SAML bindings §3.4.4.1: the XML signature is removed before DEFLATE; one left inside
  // could never be verified as the Redirect binding defines, so it is not silently ignored.
  if (descendantsNamed(decoded.document, NS.xmldsig, 'Signature').length > 0) {
    throw new TesseraError('saml_signature_invalid', 'an HTTP-Redirect AuthnRequest must be signed in the query, not in the XML');
  }
  const signature = decoded.querySignature;
  if (signature === undefined) return undefined;
  verifyQuerySignature(signature.signedOctets, signature.sigAlg, signature.signature, sp.signingCertificates);
  // The signature covers the whole deflated message, so the whole document is authenticated.
  return rootElement(decoded.document);
}

function verifyPost(decoded: DecodedAuthnRequest, sp: ServiceProvider): Element | undefined {
  if (descendantsNamed(decoded.document, NS.xmldsig, 'Signature').length === 0) return undefined;
  const signedXml = verifyEnvelopedSignature(decoded.xml, decoded.document, sp.signingCertificates);
  // Canonical XML may be somewhat longer than the original (expanded empty elements, namespaces).
  const limit = Buffer.byteLength(decoded.xml, 'utf8') * 4 + 4096;
  const root = rootElement(parseSafeXml(signedXml, { maxBytes: limit }, 'saml_signature_invalid', 'the signed AuthnRequest'));
  if (!isNamed(root, NS.protocol, 'AuthnRequest')) throw new TesseraError('saml_signature_invalid', 'the signature does not cover the AuthnRequest');
  return root;
}

const REQUEST_ID = /^[\p{L}_][\p{L}\p{N}._\-\u00B7\u0300-\u036F\u203F\u2040]*$/u;

function readAuthnRequest(root: Element, signed: boolean): AuthnRequest {
  const id = attribute(root, 'ID');
  if (id === undefined || id === '') throw malformed('the AuthnRequest has no ID');
  // Our Response echoes it in InResponseTo (xs:NCName): refuse now what would make that Response invalid.
  if (id.length > 256 || !REQUEST_ID.test(id)) throw malformed('the AuthnRequest ID is not an xs:NCName of at most 256 characters');
  const version = attribute(root, 'Version');
  if (version === undefined) throw malformed('the AuthnRequest has no Version');
  return {
    id,
    issuer: readIssuer(root),
    issueInstant: parseInstant(attribute(root, 'IssueInstant')),
    version,
    destination: attribute(root, 'Destination'),
    assertionConsumerServiceUrl: attribute(root, 'AssertionConsumerServiceURL'),
    assertionConsumerServiceIndex: parseIndex(attribute(root, 'AssertionConsumerServiceIndex')),
    protocolBinding: attribute(root, 'ProtocolBinding'),
    nameIdFormat: readNameIdFormat(root),
    forceAuthn: readFlag(root, 'ForceAuthn'),
    isPassive: readFlag(root, 'IsPassive'),
    signed,
  };
}

/** SAML profiles §4.1.4.1: the Issuer is the SP's entityID, with Format omitted or entity. */
function readIssuer(root: Element): string {
  const issuers = childrenNamed(root, NS.assertion, 'Issuer');
  if (issuers.length !== 1) throw malformed(`the AuthnRequest must have exactly one saml:Issuer, found ${issuers.length}`);
  const issuer = issuers[0] as Element;
  const format = attribute(issuer, 'Format');
  if (format !== undefined && format !== ENTITY_FORMAT) throw malformed('the Issuer Format must be omitted or entity');
  const value = trimmedText(issuer);
  if (value === '') throw malformed('the saml:Issuer is empty');
  return value;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** xs:dateTime with a time zone (SAML core §1.3.3 requires UTC); anything looser is refused. */
export function parseInstant(value: string | undefined): Date {
  const match = value === undefined ? null : DATE_TIME.exec(value);
  if (match === null) throw malformed('IssueInstant is missing or not an xs:dateTime in UTC');
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const milliseconds = Number((match[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, milliseconds);
  const check = new Date(utc);
  const fieldsHold = check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!fieldsHold) throw malformed('IssueInstant is not a valid date and time');
  return new Date(utc - zoneOffsetMilliseconds(match[8] as string));
}

function zoneOffsetMilliseconds(zone: string): number {
  if (zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hours, minutes] = zone.slice(1).split(':').map(Number) as [number, number];
  return sign * (hours * 60 + minutes) * 60_000;
}

function parseIndex(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const index = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(index <= 65535)) throw malformed('AssertionConsumerServiceIndex is not an unsigned short');
  return index;
}

function readNameIdFormat(root: Element): string | undefined {
  const policies = childrenNamed(root, NS.protocol, 'NameIDPolicy');
  if (policies.length > 1) throw malformed('the AuthnRequest has more than one NameIDPolicy');
  return policies[0] === undefined ? undefined : attribute(policies[0], 'Format');
}

function readFlag(root: Element, name: string): boolean {
  const value = attribute(root, name);
  if (value === undefined) return false;
  const flag = parseXsBoolean(value);
  if (flag === undefined) throw malformed(`${name} is not an xs:boolean`);
  return flag;
}

// ---------------------------------------------------------------------------------------------
// ACS selection

/**
 * The ACS the Response goes to: only a registered, https, HTTP-POST endpoint, named by
 * exact URL or by index, else the SP's default. The URL comparison is deliberately a plain
 * string compare: any normalisation is a way to make an unregistered URL "equal".
 */
export function selectAssertionConsumerService(sp: ServiceProvider, request: AuthnRequest): SpEndpoint {
  const url = request.assertionConsumerServiceUrl;
  const index = request.assertionConsumerServiceIndex;
  if (url !== undefined && index !== undefined) {
    throw malformed('AssertionConsumerServiceURL and AssertionConsumerServiceIndex are mutually exclusive');
  }
  if (request.protocolBinding !== undefined && request.protocolBinding !== BINDINGS.post) {
    throw new TesseraError('saml_unsupported_binding', `ProtocolBinding ${request.protocolBinding} is not supported; use HTTP-POST`);
  }
  if (url !== undefined) return acsByUrl(sp, url);
  if (index !== undefined) return acsByIndex(sp, index);
  return defaultAcs(sp);
}

function notRegistered(message: string): TesseraError {
  return new TesseraError('saml_acs_not_registered', message);
}

function acsByUrl(sp: ServiceProvider, url: string): SpEndpoint {
  const match = sp.assertionConsumerServices.find((endpoint) => isUsableAssertionConsumerService(endpoint) && endpoint.location === url);
  if (match === undefined) throw notRegistered('AssertionConsumerServiceURL is not a registered https HTTP-POST endpoint of the SP');
  return match;
}

function acsByIndex(sp: ServiceProvider, index: number): SpEndpoint {
  const match = sp.assertionConsumerServices.find((endpoint) => endpoint.index === index);
  if (match === undefined) throw notRegistered(`the SP has no AssertionConsumerService with index ${index}`);
  if (match.binding !== BINDINGS.post) {
    throw new TesseraError('saml_unsupported_binding', `AssertionConsumerService ${index} uses ${match.binding}; only HTTP-POST is supported`);
  }
  if (!isUsableAssertionConsumerService(match)) throw notRegistered(`AssertionConsumerService ${index} is not https`);
  return match;
}

function defaultAcs(sp: ServiceProvider): SpEndpoint {
  const usable = sp.assertionConsumerServices.filter(isUsableAssertionConsumerService);
  const lowestIndex = [...usable].sort((a, b) => (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER))[0];
  const chosen = usable.find((endpoint) => endpoint.isDefault) ?? lowestIndex;
  if (chosen === undefined) throw notRegistered('the SP has no https HTTP-POST AssertionConsumerService');
  return chosen;
}

// ---------------------------------------------------------------------------------------------
// checks

export interface AuthnRequestCheckDeps {
  readonly now: Date;
  /** Our SSO endpoint URL, which Destination must name exactly. */
  readonly ssoUrl: string;
  readonly clockSkewSeconds: number;
  readonly replay: ReplayCache;
  /** How long a request ID is remembered; at least twice the clock skew, or a replay could outlive it. */
  readonly replayTtlSeconds: number;
}

/**
 * Protocol checks on a verified request. The replay check runs last so that a request
 * refused for another reason does not use up its ID.
 */
export async function checkAuthnRequest(request: AuthnRequest, deps: AuthnRequestCheckDeps): Promise<void> {
  checkVersion(request);
  checkDestination(request, deps.ssoUrl);
  checkFreshness(request, deps.now, deps.clockSkewSeconds);
  checkNameIdPolicy(request);
  await checkReplay(request, deps);
}

function checkVersion(request: AuthnRequest): void {
  if (request.version !== '2.0') throw new TesseraError('saml_version_mismatch', `SAML Version ${request.version} is not supported; use 2.0`);
}

/** SAML bindings §3.4.5.2 / §3.5.5.2: a signed request must say where it was meant to go. */
function checkDestination(request: AuthnRequest, ssoUrl: string): void {
  if (request.destination === undefined) {
    if (request.signed) throw new TesseraError('saml_wrong_destination', 'a signed AuthnRequest must carry a Destination');
    return;
  }
  if (request.destination !== ssoUrl) throw new TesseraError('saml_wrong_destination', 'the AuthnRequest Destination is not this IdP\'s SSO endpoint');
}

function checkFreshness(request: AuthnRequest, now: Date, clockSkewSeconds: number): void {
  const drift = Math.abs(request.issueInstant.getTime() - now.getTime());
  if (drift > clockSkewSeconds * 1000) {
    throw new TesseraError('saml_request_stale', `the AuthnRequest IssueInstant is more than ${clockSkewSeconds} s from now`);
  }
}

function checkNameIdPolicy(request: AuthnRequest): void {
  if (request.nameIdFormat !== undefined && !NAMEID_FORMATS_ACCEPTED.has(request.nameIdFormat)) {
    throw new TesseraError('saml_invalid_nameid_policy', `NameID format ${request.nameIdFormat} is not supported (persistent, transient or unspecified)`);
  }
}

async function checkReplay(request: AuthnRequest, deps: AuthnRequestCheckDeps): Promise<void> {
  const expiresAt = new Date(deps.now.getTime() + deps.replayTtlSeconds * 1000);
  const fresh = await deps.replay.checkAndStore(`authn-request:${request.issuer}`, request.id, expiresAt, deps.now);
  if (!fresh) throw new TesseraError('saml_request_replayed', 'this AuthnRequest ID has already been used');
}
