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
  renderTemplate,
  xmlElement,
  type CanonicalFragment,
  type Rendering,
  type RenderingTemplate,
  type TemplateBuild,
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
  return signRendering(unsigned, element.name, id, key, options, (value) =>
    renderInContext(signatureElement(value, options.inclusivePrefixes), unsigned.slotContext!, options.inclusivePrefixes),
  );
}

/**
 * signCanonical for elements of one shape, compiled once: the element, its
 * SignedInfo and its Signature are filled in (canonical-xml.ts RenderingTemplate)
 * instead of rendered. What it writes is what signCanonical writes for the
 * element `build` gives with the same values.
 */
export class CanonicalSigningTemplate {
  readonly #element: RenderingTemplate;
  readonly #signedInfo: RenderingTemplate;
  readonly #signature: RenderingTemplate;
  readonly #name: string;
  readonly #idValue: number;
  readonly #options: CanonicalSignOptions;

  /** `build` writes value `idValue` into the element's ID attribute, and nothing else there. */
  constructor(build: TemplateBuild, values: number, idValue: number, options: CanonicalSignOptions) {
    const placeholder = build(
      (index) => `${index}`,
      (_index, like) => like,
    );
    this.#name = placeholder.name;
    this.#idValue = idValue;
    this.#options = options;
    this.#element = renderTemplate(build, values, options.inclusivePrefixes);
    const slot = this.#element.slotContext;
    if (slot === undefined) throw new TesseraError('internal', `${placeholder.name} has no signature slot`);
    if (placeholder.attributes.ID !== `${idValue}`) throw new TesseraError('internal', `${placeholder.name}'s ID is not value ${idValue}`);
    const signatureValues = (value: (index: number) => string): SignatureValues => ({
      id: value(0),
      digest: value(1),
      signatureValue: value(2),
      certificate: value(3),
    });
    this.#signedInfo = renderTemplate((value) => signedInfo(value(0), value(1), options.inclusivePrefixes), 2, []);
    this.#signature = renderTemplate((value) => signatureElement(signatureValues(value), options.inclusivePrefixes), 4, options.inclusivePrefixes, slot);
  }

  /** The Reference names the ID written in the element: value `idValue`, never a second copy of it. */
  sign(values: readonly string[], key: SigningKey, fragments: readonly CanonicalFragment[] = []): CanonicalFragment {
    assertRsa(key);
    const unsigned = this.#element.fill(values, fragments);
    return signRendering(unsigned, this.#name, values[this.#idValue]!, key, this.#options, (value) =>
      this.#signature.fill([value.id, value.digest, value.signatureValue, value.certificate]),
      (signedId, digest) => this.#signedInfo.fill([signedId, digest]).xml,
    );
  }
}

interface SignatureValues {
  readonly id: string;
  readonly digest: string;
  readonly signatureValue: string;
  readonly certificate: string;
}

function signRendering(
  unsigned: Rendering,
  name: string,
  id: string,
  key: SigningKey,
  options: CanonicalSignOptions,
  renderSignature: (values: SignatureValues) => Rendering,
  renderSignedInfo: (id: string, digest: string) => string = (signedId, digest) => renderCanonical(signedInfo(signedId, digest, options.inclusivePrefixes)).xml,
): CanonicalFragment {
  if (!unsigned.hasSlot || unsigned.slotContext === undefined) throw new TesseraError('internal', `${name} has no signature slot`);
  if (!unsigned.canonical) throw new TesseraError('internal', `${name} contains opaque markup: it is not canonical`);
  // The enveloped-signature transform removes the Signature: the digest covers the element without it.
  const digest = createHash('sha256').update(canonicalBytes(unsigned.xml)).digest('base64');
  // SignedInfo is canonicalised as an apex of its own, so ds is declared on it.
  const signedBytes = canonicalBytes(renderSignedInfo(id, digest));
  const signatureValue = sign('sha256', signedBytes, key.privateKey).toString('base64');
  const signature = renderSignature({ id, digest, signatureValue, certificate: key.certificateBase64 });
  const bindings = new Map([...unsigned.bindings, ...signature.bindings]);
  return fragmentOf(unsigned.beforeSlot + signature.xml + unsigned.afterSlot, bindings, options.inclusivePrefixes);
}

function signatureElement(values: SignatureValues, inclusivePrefixes: readonly string[]): XmlElement {
  return xmlElement(
    'ds:Signature',
    {},
    [
      signedInfo(values.id, values.digest, inclusivePrefixes),
      xmlElement('ds:SignatureValue', {}, [values.signatureValue]),
      xmlElement('ds:KeyInfo', {}, [xmlElement('ds:X509Data', {}, [xmlElement('ds:X509Certificate', {}, [values.certificate])])]),
    ],
    { ds: NS.xmldsig },
  );
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
