/**
 * SP registration from SAML 2.0 metadata. Accepts what real SPs publish (Shibboleth,
 * pysaml2, node-saml, …): comments, Extensions, mdui, algorithm hints, Organization,
 * ContactPerson, endpoints for bindings we do not use. Refuses unsafe documents and
 * anything we could not act on safely, with a message that names the problem.
 *
 * Endpoint policy: every AssertionConsumerService and SingleLogoutService is stored as
 * published, whatever its binding or scheme, so the registered record is faithful to the
 * metadata (and a later feature such as ECP over PAOS can use it). Only https HTTP-POST
 * ACS endpoints are ever used to deliver assertions (isUsableAssertionConsumerService),
 * and registration fails when there is none.
 */
import { X509Certificate } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { TesseraError } from '../common/errors.js';
import { parseCertificate } from '../keys/certificates.js';
import { BINDINGS } from './service-provider.js';
import { validateSamlMessage } from './schema-validation.js';
import type { ServiceProvider, SpEndpoint } from './service-provider.js';
import { NS, attribute, childrenNamed, descendantsNamed, isNamed, parseSafeXml, parseXsBoolean, rootElement, trimmedText } from './xml.js';

export const DEFAULT_MAX_METADATA_BYTES = 512 * 1024;
const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
/** SAML core §8.3.6: an entity identifier is at most 1024 characters. */
const MAX_ENTITY_ID_LENGTH = 1024;

export interface SpMetadataOptions {
  /** Sign the Response as well as the Assertion (`--no-sign-response` clears it). */
  readonly signResponse: boolean;
  readonly now: Date;
  readonly maxBytes?: number;
}

function invalid(message: string): TesseraError {
  return new TesseraError('sp_metadata_invalid', message);
}

/** Endpoints already judged: every sign-on asks of its SP's (cached) endpoints, and parsing the URL is most of the answer. */
const usableAcs = new WeakMap<SpEndpoint, boolean>();

/** The only ACS endpoints an assertion is ever delivered to. */
export function isUsableAssertionConsumerService(endpoint: SpEndpoint): boolean {
  let usable = usableAcs.get(endpoint);
  if (usable === undefined) {
    usable = endpoint.binding === BINDINGS.post && isHttpsUrl(endpoint.location);
    usableAcs.set(endpoint, usable);
  }
  return usable;
}

function isHttpsUrl(location: string): boolean {
  try {
    return new URL(location).protocol === 'https:';
  } catch {
    return false;
  }
}

/** @throws TesseraError('sp_metadata_invalid') naming what is wrong */
export function parseSpMetadata(xml: string, options: SpMetadataOptions): ServiceProvider {
  const document = parseSafeXml(xml, { maxBytes: options.maxBytes ?? DEFAULT_MAX_METADATA_BYTES }, 'sp_metadata_invalid', 'metadata');
  const entity = entityDescriptor(rootElement(document));
  checkValidUntil(entity, options.now);
  const entityId = readEntityId(entity);
  const descriptor = spSsoDescriptor(entity);
  checkValidUntil(descriptor, options.now);
  const assertionConsumerServices = readAssertionConsumerServices(descriptor);
  const keys = readKeyDescriptors(descriptor);
  const authnRequestsSigned = readBooleanAttribute(descriptor, 'AuthnRequestsSigned');
  if (authnRequestsSigned && keys.signing.length === 0) {
    throw invalid('AuthnRequestsSigned is true but the SPSSODescriptor has no signing certificate');
  }
  // After the reads above, whose messages name the usual mistakes; this catches everything else.
  validateSamlMessage(xml, 'SpMetadata', 'sp_metadata_invalid');
  return Object.freeze({
    entityId,
    assertionConsumerServices,
    singleLogoutServices: readSingleLogoutServices(descriptor),
    signingCertificates: keys.signing,
    encryptionCertificates: keys.encryption,
    nameIdFormats: Object.freeze(childrenNamed(descriptor, NS.metadata, 'NameIDFormat').map(trimmedText).filter((format) => format !== '')),
    authnRequestsSigned,
    wantAssertionsSigned: readBooleanAttribute(descriptor, 'WantAssertionsSigned'),
    signResponse: options.signResponse,
    metadataXml: xml,
    registeredAt: options.now,
  });
}

function entityDescriptor(root: Element): Element {
  if (isNamed(root, NS.metadata, 'EntitiesDescriptor')) {
    throw invalid('metadata is an EntitiesDescriptor (an aggregate); register each SP with its own EntityDescriptor');
  }
  if (!isNamed(root, NS.metadata, 'EntityDescriptor')) {
    throw invalid(`the root element is ${root.nodeName} in namespace ${root.namespaceURI ?? '(none)'}, not md:EntityDescriptor`);
  }
  return root;
}

function readEntityId(entity: Element): string {
  const entityId = attribute(entity, 'entityID') ?? '';
  if (entityId.trim() === '') throw invalid('the EntityDescriptor has no entityID');
  if (entityId !== entityId.trim()) throw invalid('the entityID has leading or trailing whitespace');
  if (entityId.length > MAX_ENTITY_ID_LENGTH) throw invalid(`the entityID is longer than ${MAX_ENTITY_ID_LENGTH} characters`);
  return entityId;
}

/** Metadata past its validUntil is stale by its publisher's own statement. */
function checkValidUntil(element: Element, now: Date): void {
  const validUntil = attribute(element, 'validUntil');
  if (validUntil === undefined) return;
  const expiry = Date.parse(validUntil);
  if (Number.isNaN(expiry)) throw invalid(`${element.localName ?? ''} validUntil is not a date`);
  if (expiry <= now.getTime()) throw invalid(`${element.localName ?? ''} expired at ${validUntil} (validUntil)`);
}

function spSsoDescriptor(entity: Element): Element {
  const descriptors = childrenNamed(entity, NS.metadata, 'SPSSODescriptor');
  if (descriptors.length === 0) throw invalid('the EntityDescriptor has no SPSSODescriptor');
  const saml2 = descriptors.filter((descriptor) => (attribute(descriptor, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL));
  if (saml2.length === 0) throw invalid(`no SPSSODescriptor supports ${SAML2_PROTOCOL}`);
  if (saml2.length > 1) throw invalid(`more than one SPSSODescriptor supports ${SAML2_PROTOCOL}`);
  return saml2[0] as Element;
}

function readAssertionConsumerServices(descriptor: Element): readonly SpEndpoint[] {
  const endpoints = childrenNamed(descriptor, NS.metadata, 'AssertionConsumerService').map((element) => readIndexedEndpoint(element));
  const seen = new Set<number>();
  for (const endpoint of endpoints) {
    // Requests may name an ACS by index: two endpoints behind one index would make that ambiguous.
    if (endpoint.index !== undefined && seen.has(endpoint.index)) throw invalid(`AssertionConsumerService index ${endpoint.index} is used twice`);
    if (endpoint.index !== undefined) seen.add(endpoint.index);
  }
  if (!endpoints.some(isUsableAssertionConsumerService)) throw invalid('no HTTP-POST AssertionConsumerService with an https Location');
  if (endpoints.filter((endpoint) => endpoint.isDefault).length > 1) throw invalid('more than one AssertionConsumerService has isDefault="true"');
  return Object.freeze(endpoints);
}

function readIndexedEndpoint(element: Element): SpEndpoint {
  const endpoint = readEndpoint(element);
  const rawIndex = attribute(element, 'index');
  if (rawIndex === undefined || !/^\d{1,5}$/.test(rawIndex.trim()) || Number(rawIndex) > 65535) {
    throw invalid(`AssertionConsumerService ${endpoint.location} has no valid index (an unsigned short)`);
  }
  const isDefault = attribute(element, 'isDefault');
  const parsedDefault = isDefault === undefined ? false : parseXsBoolean(isDefault);
  if (parsedDefault === undefined) throw invalid(`AssertionConsumerService ${endpoint.location} isDefault is not a boolean`);
  return Object.freeze({ ...endpoint, index: Number(rawIndex), isDefault: parsedDefault });
}

function readSingleLogoutServices(descriptor: Element): readonly SpEndpoint[] {
  return Object.freeze(childrenNamed(descriptor, NS.metadata, 'SingleLogoutService').map((element) => Object.freeze(readEndpoint(element))));
}

/** md:EndpointType: Binding and Location are required, ResponseLocation optional; all URIs. */
function readEndpoint(element: Element): SpEndpoint {
  const name = element.localName ?? 'endpoint';
  const binding = attribute(element, 'Binding') ?? '';
  const location = attribute(element, 'Location') ?? '';
  if (binding === '') throw invalid(`a ${name} has no Binding`);
  if (!isAbsoluteUrl(location)) throw invalid(`a ${name} has no valid absolute Location`);
  const responseLocation = attribute(element, 'ResponseLocation');
  if (responseLocation !== undefined && !isAbsoluteUrl(responseLocation)) throw invalid(`a ${name} ResponseLocation is not an absolute URL`);
  return { binding, location, responseLocation, index: undefined, isDefault: false };
}

function isAbsoluteUrl(value: string): boolean {
  if (value === '' || value !== value.trim()) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

interface Keys {
  readonly signing: readonly string[];
  readonly encryption: readonly string[];
}

/**
 * KeyDescriptor without `use` serves both purposes (SAML metadata §2.4.1.1). Assertions are
 * encrypted by RSA-OAEP key transport only: an explicit encryption key of another type is
 * refused (the SP would otherwise get its assertions in the clear), and a non-RSA key without
 * `use` counts as a signing key only.
 */
function readKeyDescriptors(descriptor: Element): Keys {
  const signing: string[] = [];
  const encryption: string[] = [];
  for (const keyDescriptor of childrenNamed(descriptor, NS.metadata, 'KeyDescriptor')) {
    const use = attribute(keyDescriptor, 'use');
    if (use !== undefined && use !== 'signing' && use !== 'encryption') throw invalid(`KeyDescriptor use="${use}" is neither signing nor encryption`);
    for (const pem of readCertificates(keyDescriptor)) {
      const rsa = new X509Certificate(pem).publicKey.asymmetricKeyType === 'rsa';
      if (use === 'encryption' && !rsa) throw invalid('the encryption certificate is not RSA: assertions are encrypted with RSA-OAEP key transport only');
      if (use !== 'encryption' && !signing.includes(pem)) signing.push(pem);
      if (use !== 'signing' && rsa && !encryption.includes(pem)) encryption.push(pem);
    }
  }
  return { signing: Object.freeze(signing), encryption: Object.freeze(encryption) };
}

/** Every ds:X509Certificate in the KeyDescriptor's KeyInfo, each required to parse as X.509. */
function readCertificates(keyDescriptor: Element): string[] {
  const keyInfos = childrenNamed(keyDescriptor, NS.xmldsig, 'KeyInfo');
  const certificates = keyInfos.flatMap((keyInfo) => descendantsNamed(keyInfo, NS.xmldsig, 'X509Certificate'));
  return certificates.map((certificate, position) => {
    try {
      return parseCertificate(trimmedText(certificate)).toString();
    } catch {
      throw invalid(`KeyDescriptor certificate #${position + 1} is not a valid X.509 certificate`);
    }
  });
}

function readBooleanAttribute(element: Element, name: string): boolean {
  const value = attribute(element, name);
  if (value === undefined) return false;
  const parsed = parseXsBoolean(value);
  if (parsed === undefined) throw invalid(`${name}="${value}" is not a boolean (true, false, 1 or 0)`);
  return parsed;
}
