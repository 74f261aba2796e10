/**
 * Signature checks for inbound SAML messages. Keys come only from the SP's registered
 * metadata (never from KeyInfo), algorithms only from a short allow-list (no SHA-1, no
 * HMAC), and an XML signature is accepted only in the one shape SAML uses: enveloped,
 * on the root, referencing the root by its unique ID.
 */
import { createHash, KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import type { KeyLike } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import type { HashAlgorithm, SignatureAlgorithm } from 'xml-crypto';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { TesseraError } from '../common/errors.js';
import { parsedCertificate } from '../common/parsed-certificates.js';
import { NS, attribute, childElements, descendantElements, descendantsNamed, isNamed, rootElement } from './xml.js';

type HashName = 'sha256' | 'sha384' | 'sha512';

interface SignatureAlgorithmSpec {
  readonly hash: HashName;
  readonly keyType: 'rsa' | 'ec';
}

/** Signature algorithms we verify, for both bindings (SigAlg and ds:SignatureMethod). */
export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithmSpec> = new Map([
  ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', { hash: 'sha256', keyType: 'rsa' }],
  ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha384', { hash: 'sha384', keyType: 'rsa' }],
  ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha512', { hash: 'sha512', keyType: 'rsa' }],
  ['http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256', { hash: 'sha256', keyType: 'ec' }],
  ['http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384', { hash: 'sha384', keyType: 'ec' }],
  ['http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512', { hash: 'sha512', keyType: 'ec' }],
]);

export const DIGEST_ALGORITHMS: ReadonlyMap<string, HashName> = new Map([
  ['http://www.w3.org/2001/04/xmlenc#sha256', 'sha256'],
  ['http://www.w3.org/2001/04/xmldsig-more#sha384', 'sha384'],
  ['http://www.w3.org/2001/04/xmlenc#sha512', 'sha512'],
]);

export const EXCLUSIVE_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
/** The only transform chain accepted: what SAML core §5.4.4 prescribes, in that order. */
const ACCEPTED_TRANSFORMS = [ENVELOPED_SIGNATURE, EXCLUSIVE_C14N] as const;
const ID_ATTRIBUTE_NAMES = new Set(['ID', 'Id', 'id']);

function invalid(message: string, internalDetail?: string): TesseraError {
  return new TesseraError('saml_signature_invalid', message, internalDetail === undefined ? {} : { internalDetail });
}

function publicKeys(certificates: readonly string[]): KeyObject[] {
  if (certificates.length === 0) throw invalid('the request is signed but the SP has no registered signing certificate');
  return certificates.map((pem) => parsedCertificate(pem).publicKey);
}

/**
 * One raw verification. ECDSA values are r||s (IEEE P1363) as XML Signature defines them, not
 * DER; the key type must match the algorithm so an RSA URI can never be checked with an EC key.
 */
function verifyWith(spec: SignatureAlgorithmSpec, data: Buffer, key: KeyLike, signature: Buffer): boolean {
  const keyObject = key instanceof KeyObject ? key : typeof key === 'string' ? parsedCertificate(key).publicKey : new X509Certificate(key).publicKey;
  if (keyObject.asymmetricKeyType !== spec.keyType) return false;
  try {
    return spec.keyType === 'ec'
      ? cryptoVerify(spec.hash, data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)
      : cryptoVerify(spec.hash, data, keyObject, signature);
  } catch {
    return false;
  }
}

/**
 * HTTP-Redirect binding (SAML bindings §3.4.4.1): the signature covers the octets of
 * `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as they appeared in the URL.
 * @throws TesseraError('saml_signature_invalid')
 */
export function verifyQuerySignature(signedOctets: string, sigAlg: string, signatureBase64: string, certificates: readonly string[]): void {
  const spec = SIGNATURE_ALGORITHMS.get(sigAlg);
  if (spec === undefined) throw invalid(`signature algorithm ${sigAlg} is not accepted`);
  const signature = strictBase64(signatureBase64);
  if (signature === undefined) throw invalid('the Signature parameter is not base64');
  const data = Buffer.from(signedOctets, 'utf8');
  const verified = publicKeys(certificates).some((key) => verifyWith(spec, data, key, signature));
  if (!verified) throw invalid('the signature does not verify with any registered signing certificate of the SP');
}

function strictBase64(value: string): Buffer | undefined {
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}

/**
 * HTTP-POST binding: checks the enveloped signature of the document's root in the manner of
 * node-saml's getVerifiedXml, and returns the canonical XML that the signature covers. Callers
 * must read the message from that string only; the outer document is unauthenticated.
 * @throws TesseraError('saml_signature_invalid')
 */
export function verifyEnvelopedSignature(xml: string, document: Document, certificates: readonly string[]): string {
  const root = rootElement(document);
  const signature = checkSignaturePlacement(document);
  const rootId = checkSignedInfo(signature, root);
  checkIdIsUnique(document, rootId);
  for (const key of publicKeys(certificates)) {
    const signed = checkWithKey(xml, signature, key);
    if (signed !== undefined) return signed;
  }
  throw invalid('the signature does not verify with any registered signing certificate of the SP');
}

function checkSignaturePlacement(document: Document): Element {
  const root = rootElement(document);
  const signatures = descendantsNamed(document, NS.xmldsig, 'Signature');
  if (signatures.length !== 1) throw invalid(`expected exactly one ds:Signature, found ${signatures.length}`);
  const signature = signatures[0] as Element;
  if (signature.parentNode !== root) throw invalid('the ds:Signature is not a direct child of the root element');
  checkNoCommentsOrInstructions(signature);
  return signature;
}

const COMMENT_NODE = 8;
const PROCESSING_INSTRUCTION_NODE = 7;

/**
 * Exclusive c14n drops comments, so one inside DigestValue or SignatureValue leaves SignedInfo's
 * signature intact while a reader that stops at the first text node sees another value
 * (xml-crypto CVE-2025-29775). Nothing legitimate puts either inside a signature.
 */
function checkNoCommentsOrInstructions(signature: Element): void {
  const pending: Node[] = [signature];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const children = node.childNodes;
    for (let i = 0; i < children.length; i += 1) {
      const child = children.item(i);
      if (child === null) continue;
      if (child.nodeType === COMMENT_NODE) throw invalid('the ds:Signature contains a comment');
      if (child.nodeType === PROCESSING_INSTRUCTION_NODE) throw invalid('the ds:Signature contains a processing instruction');
      pending.push(child);
    }
  }
}

/** Structure of ds:Signature / ds:SignedInfo; returns the root's ID, which the one Reference names. */
function checkSignedInfo(signature: Element, root: Element): string {
  const parts = expectChildren(signature, [{ name: 'SignedInfo' }, { name: 'SignatureValue' }, { name: 'KeyInfo', optional: true }]);
  const signedInfo = parts.get('SignedInfo') as Element;
  const info = expectChildren(signedInfo, [{ name: 'CanonicalizationMethod' }, { name: 'SignatureMethod' }, { name: 'Reference' }]);
  const c14n = attribute(info.get('CanonicalizationMethod') as Element, 'Algorithm');
  if (c14n !== EXCLUSIVE_C14N) throw invalid(`canonicalization ${String(c14n)} is not accepted (exclusive c14n without comments only)`);
  const signatureMethod = info.get('SignatureMethod') as Element;
  const algorithm = attribute(signatureMethod, 'Algorithm') ?? '';
  if (!SIGNATURE_ALGORITHMS.has(algorithm)) throw invalid(`signature algorithm ${algorithm || '(none)'} is not accepted`);
  if (childElements(signatureMethod).length > 0) throw invalid('ds:SignatureMethod must be empty');
  const rootId = attribute(root, 'ID') ?? '';
  if (rootId === '') throw invalid('the signed element has no ID');
  checkReference(info.get('Reference') as Element, rootId);
  return rootId;
}

interface ChildRule {
  readonly name: string;
  readonly optional?: boolean;
}

/**
 * The ds children of an element, in schema order, each at most once: required ones must be
 * present, anything else (a second Reference, ds:Object, foreign elements) is refused. xml-crypto
 * finds some of these by name anywhere in the Signature, so only one candidate may exist.
 */
function expectChildren(parent: Element, rules: readonly ChildRule[]): Map<string, Element> {
  const parentName = `ds:${parent.localName ?? ''}`;
  const found = new Map<string, Element>();
  let next = 0;
  for (const child of childElements(parent)) {
    const name = child.localName ?? '';
    const position = child.namespaceURI === NS.xmldsig ? rules.findIndex((rule) => rule.name === name) : -1;
    if (position === -1) {
      const shown = child.namespaceURI === NS.xmldsig ? `ds:${name}` : `${child.nodeName} (${child.namespaceURI ?? 'no namespace'})`;
      throw invalid(`unexpected element ${shown} in ${parentName}`);
    }
    if (found.has(name)) throw invalid(`more than one ds:${name} in ${parentName}`);
    if (position < next) throw invalid(`ds:${name} is out of order in ${parentName}`);
    found.set(name, child);
    next = position + 1;
  }
  const missing = rules.find((rule) => rule.optional !== true && !found.has(rule.name));
  if (missing !== undefined) throw invalid(`${parentName} has no ds:${missing.name}`);
  return found;
}

function checkReference(reference: Element, rootId: string): void {
  if (attribute(reference, 'URI') !== `#${rootId}`) throw invalid('the signature Reference does not point at the signed element\'s ID');
  const parts = expectChildren(reference, [{ name: 'Transforms' }, { name: 'DigestMethod' }, { name: 'DigestValue' }]);
  const transforms = childElements(parts.get('Transforms') as Element);
  const algorithms = transforms.map((transform) => (isNamed(transform, NS.xmldsig, 'Transform') ? attribute(transform, 'Algorithm') : undefined));
  const acceptedChain = algorithms.length === ACCEPTED_TRANSFORMS.length && ACCEPTED_TRANSFORMS.every((expected, i) => algorithms[i] === expected);
  if (!acceptedChain) throw invalid(`transforms ${algorithms.map(String).join(', ')} are not accepted (enveloped-signature then exclusive c14n only)`);
  const envelopedTransform = transforms[0] as Element;
  const c14nTransform = transforms[1] as Element;
  const onlyPrefixList = childElements(c14nTransform).every((child) => isNamed(child, EXCLUSIVE_C14N, 'InclusiveNamespaces'));
  if (childElements(envelopedTransform).length > 0 || !onlyPrefixList) throw invalid('unexpected content inside a ds:Transform');
  const digest = attribute(parts.get('DigestMethod') as Element, 'Algorithm') ?? '';
  if (!DIGEST_ALGORITHMS.has(digest)) throw invalid(`digest algorithm ${digest || '(none)'} is not accepted`);
}

/**
 * xml-crypto resolves a Reference by any attribute whose local name is ID, Id or id; if a
 * second element answers to the same value, a wrapped copy could be the one that gets digested.
 */
function checkIdIsUnique(document: Document, id: string): void {
  const root = rootElement(document);
  const carriers = [root, ...descendantElements(root)].filter((element) => hasIdValue(element, id));
  if (carriers.length !== 1 || carriers[0] !== root) throw invalid(`the ID ${id} is carried by ${carriers.length} elements`);
}

function hasIdValue(element: Element, id: string): boolean {
  const attributes = element.attributes;
  for (let i = 0; i < attributes.length; i += 1) {
    const item = attributes.item(i);
    if (item !== null && ID_ATTRIBUTE_NAMES.has(item.localName ?? item.name) && item.value === id) return true;
  }
  return false;
}

/** The signed canonical XML when the signature verifies with this key; undefined otherwise. */
function checkWithKey(xml: string, signature: Element, key: KeyObject): string | undefined {
  const signedXml = restrictedSignedXml(key);
  try {
    signedXml.loadSignature(signature);
    if (!signedXml.checkSignature(xml)) return undefined;
  } catch {
    return undefined;
  }
  const references = signedXml.getSignedReferences();
  return references.length === 1 ? references[0] : undefined;
}

/** A SignedXml that knows only our algorithms and never takes a key from KeyInfo. */
function restrictedSignedXml(key: KeyObject): SignedXml {
  const signedXml = new SignedXml({ publicCert: key, getCertFromKeyInfo: () => null });
  const defaults = signedXml.CanonicalizationAlgorithms;
  signedXml.CanonicalizationAlgorithms = {
    [EXCLUSIVE_C14N]: requireAlgorithm(defaults[EXCLUSIVE_C14N]),
    [ENVELOPED_SIGNATURE]: requireAlgorithm(defaults[ENVELOPED_SIGNATURE]),
  };
  signedXml.HashAlgorithms = Object.fromEntries([...DIGEST_ALGORITHMS].map(([uri, hash]) => [uri, hashAlgorithm(uri, hash)]));
  signedXml.SignatureAlgorithms = Object.fromEntries([...SIGNATURE_ALGORITHMS].map(([uri, spec]) => [uri, signatureAlgorithm(uri, spec)]));
  return signedXml;
}

function requireAlgorithm<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('xml-crypto no longer provides a required transform');
  return value;
}

function hashAlgorithm(uri: string, hash: HashName): new () => HashAlgorithm {
  return class implements HashAlgorithm {
    getHash(xml: string): string {
      return createHash(hash).update(xml, 'utf8').digest('base64');
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

function signatureAlgorithm(uri: string, spec: SignatureAlgorithmSpec): new () => SignatureAlgorithm {
  return class implements SignatureAlgorithm {
    getSignature(): never {
      throw new Error('inbound signature algorithms only verify');
    }
    verifySignature(material: string, key: KeyLike, signatureValue: string): boolean {
      return verifyWith(spec, Buffer.from(material, 'utf8'), key, Buffer.from(signatureValue, 'base64'));
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}
