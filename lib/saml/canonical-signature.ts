import { createHash, sign } from 'node:crypto';
import type { SigningKey } from '../keys/index.js';
import { TesseraError } from '../common/errors.js';
import { NS } from './namespaces.js';
import { assertRsa, XMLDSIG } from './signing.js';
import {
  canonicalBytes,
  fragmentOf,
  renderCanonical,
  renderInContext,
  xmlElement,
  type CanonicalFragment,
  type XmlElement,
} from './canonical-xml.js';

/*
 * Enveloped signatures over XML rendered canonical by construction
 * (canonical-xml.ts): the digest is taken over the bytes we wrote, the
 * SignedInfo is rendered in its own canonical form and signed directly. No
 * DOM, no re-serialisation, no key parsing: the KeyObject is used as loaded.
 *
 * The algorithms are fixed: RSA-SHA256, SHA-256, exclusive c14n; SHA-1 cannot
 * be produced. The exclusive-c14n transform carries the PrefixList the element
 * was rendered under, so a prefix that is used only inside attribute values
 * (xs in xsi:type="xs:string") is signed with its binding: without it an
 * attacker could rebind xs without breaking the signature.
 */

const EXC_C14N_NS = XMLDSIG.exclusiveC14n;

export interface CanonicalSignOptions {
  /** Prefixes c14n must render although no element or attribute name uses them. */
  readonly inclusivePrefixes: readonly string[];
}

/**
 * Signs `element` (which must carry its ID attribute and exactly one
 * SIGNATURE_SLOT child where the ds:Signature goes) and returns it, signature
 * in place, as a fragment that stays canonical when embedded.
 */
export function signCanonical(element: XmlElement, key: SigningKey, options: CanonicalSignOptions): CanonicalFragment {
  assertRsa(key);
  const id = element.attributes.ID;
  if (id === undefined) throw new TesseraError('internal', `${element.name} has no ID to reference`);
  const unsigned = renderCanonical(element, options.inclusivePrefixes);
  if (!unsigned.hasSlot || unsigned.slotContext === undefined) {
    throw new TesseraError('internal', `${element.name} has no signature slot`);
  }
  if (!unsigned.canonical) throw new TesseraError('internal', `${element.name} contains opaque markup: it is not canonical`);
  // The enveloped-signature transform removes the Signature: the digest covers the element without it.
  const digest = createHash('sha256').update(canonicalBytes(unsigned.xml)).digest('base64');
  const info = signedInfo(id, digest, options.inclusivePrefixes);
  // SignedInfo is canonicalised as an apex of its own, so ds is declared on it.
  const signedBytes = canonicalBytes(renderCanonical(info).xml);
  const signatureValue = sign('sha256', signedBytes, key.privateKey).toString('base64');
  const signature = renderInContext(
    xmlElement(
      'ds:Signature',
      {},
      [
        info,
        xmlElement('ds:SignatureValue', {}, [signatureValue]),
        xmlElement('ds:KeyInfo', {}, [
          xmlElement('ds:X509Data', {}, [xmlElement('ds:X509Certificate', {}, [key.certificateBase64])]),
        ]),
      ],
      { ds: NS.xmldsig },
    ),
    unsigned.slotContext,
    options.inclusivePrefixes,
  );
  const bindings = new Map([...unsigned.bindings, ...signature.bindings]);
  return fragmentOf(unsigned.beforeSlot + signature.xml + unsigned.afterSlot, bindings, options.inclusivePrefixes);
}

function signedInfo(id: string, digest: string, inclusivePrefixes: readonly string[]): XmlElement {
  const algorithm = (name: string, uri: string, children: XmlElement[] = []): XmlElement =>
    xmlElement(name, { Algorithm: uri }, children);
  const prefixList =
    inclusivePrefixes.length === 0
      ? []
      : [
          xmlElement(
            'ec:InclusiveNamespaces',
            { PrefixList: [...new Set(inclusivePrefixes)].sort().join(' ') },
            [],
            { ec: EXC_C14N_NS },
          ),
        ];
  return xmlElement(
    'ds:SignedInfo',
    {},
    [
      algorithm('ds:CanonicalizationMethod', XMLDSIG.exclusiveC14n),
      algorithm('ds:SignatureMethod', XMLDSIG.rsaSha256),
      xmlElement('ds:Reference', { URI: `#${id}` }, [
        xmlElement('ds:Transforms', {}, [
          algorithm('ds:Transform', XMLDSIG.envelopedSignature),
          algorithm('ds:Transform', XMLDSIG.exclusiveC14n, prefixList),
        ]),
        algorithm('ds:DigestMethod', XMLDSIG.sha256),
        xmlElement('ds:DigestValue', {}, [digest]),
      ]),
    ],
    { ds: NS.xmldsig },
  );
}
