import { SignedXml } from 'xml-crypto';
import type { SigningKey } from '../keys/index.js';
import { TesseraError } from '../common/errors.js';
import { escapeLineSeparators } from './xml-escape.js';

/*
 * Tessera's two XML signers share these algorithms. This one signs the DOM way
 * with xml-crypto: any well-formed string in, signed string out (metadata,
 * logout messages, a Response around an EncryptedAssertion). Assertions and
 * Responses on the sign-on path are written canonical by construction and
 * signed over the bytes written, without a DOM (canonical-signature.ts).
 */

export const XMLDSIG = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  exclusiveC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  envelopedSignature: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
} as const;

export interface EnvelopedSignatureTarget {
  /** XPath (by local-name and namespace-uri) selecting the one element to sign; it must carry an ID attribute. */
  readonly element: string;
  /** XPath of the sibling the ds:Signature follows (the element's Issuer); without it the signature becomes the element's first child. */
  readonly after?: string;
}

/**
 * Adds an enveloped RSA-SHA256 signature over one element: exclusive c14n,
 * SHA-256 digest, Reference URI "#" + its ID, KeyInfo with the certificate.
 * Nothing here can produce SHA-1: the algorithms are fixed.
 */
export function signEnveloped(xml: string, target: EnvelopedSignatureTarget, key: SigningKey): string {
  assertRsa(key);
  const signer = new SignedXml({
    privateKey: key.privateKey,
    publicCert: key.certificatePem,
    signatureAlgorithm: XMLDSIG.rsaSha256,
    canonicalizationAlgorithm: XMLDSIG.exclusiveC14n,
    // Use the element's SAML ID as it is; never let the signer invent an "Id".
    idAttribute: 'ID',
  });
  signer.addReference({
    xpath: target.element,
    transforms: [XMLDSIG.envelopedSignature, XMLDSIG.exclusiveC14n],
    digestAlgorithm: XMLDSIG.sha256,
    // No InclusiveNamespaces PrefixList (which would keep xmlns:xs for the
    // xsi:type="xs:string" values in the signed form): xml-crypto 6 writes it
    // into every Transform, the enveloped-signature one included, and
    // verifiers that refuse content in a transform that takes none would
    // reject the signature. Verifiers compute the same digest without it.
  });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location:
      target.after === undefined
        ? { reference: target.element, action: 'prepend' }
        : { reference: target.after, action: 'after' },
  });
  // xml-crypto hands back xmldom's re-serialisation, which writes NEL, LS and PS raw again.
  return escapeLineSeparators(signer.getSignedXml());
}

/** RSA only: the algorithm URIs above are RSA-SHA256, and nothing may sign under a name that is not its own. */
export function assertRsa(key: SigningKey): void {
  if (key.privateKey.asymmetricKeyType !== 'rsa') {
    throw new TesseraError('internal', 'the SAML signing key must be RSA', {
      internalDetail: `signing key ${key.id} is ${String(key.privateKey.asymmetricKeyType)}`,
    });
  }
}

/** XPath matching an element by namespace and local name, independent of prefixes. */
export function qualified(namespace: string, localName: string): string {
  return `*[local-name()='${localName}' and namespace-uri()='${namespace}']`;
}
