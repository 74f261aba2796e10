import { strict as assert } from 'node:assert';
import { createPrivateKey, createHash, randomBytes, verify, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { certificateBody, generateSelfSigned, type SigningKey } from '../lib/keys/index.js';
import { AUTHN_CONTEXT, STATUS, buildErrorResponse, buildSuccessResponse, type SuccessResponseInput } from '../lib/saml/response.js';
import { NAMEID_FORMAT, NS } from '../lib/saml/namespaces.js';
import { isXmlSafe } from '../lib/saml/xml-escape.js';
import {
  OpaqueMarkup,
  SIGNATURE_SLOT,
  canonicalBytes,
  renderCanonical,
  renderTemplate,
  xmlElement,
  type CanonicalFragment,
} from '../lib/saml/canonical-xml.js';
import { CanonicalSigningTemplate, signCanonical } from '../lib/saml/canonical-signature.js';
import { isTesseraError } from '../lib/common/errors.js';
import { signatureOf, validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

/*
 * The sign-on path writes the Assertion and Response already in exclusive-c14n
 * form and digests the bytes it wrote. These tests hold that claim against an
 * independent canonicaliser (xml-crypto over an xmldom parse of what we send):
 * byte for byte, over random values full of markup, Unicode and line ends.
 */

const IDP = 'https://idp.example.test/saml/metadata';
const SP = 'https://sp.example.test/saml';
const ACS = 'https://sp.example.test/saml/acs';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

async function signingKey(commonName: string): Promise<SigningKey> {
  const generated = await generateSelfSigned({ commonName, validDays: 2, now: new Date() });
  return {
    id: commonName,
    privateKey: createPrivateKey(generated.privateKeyPem),
    privateKeyPem: generated.privateKeyPem,
    certificatePem: generated.certificatePem,
    certificateBase64: certificateBody(generated.certificatePem),
  };
}

const newId = (): string => `_${randomBytes(16).toString('hex')}`;

/** Pieces that stress escaping and line-end handling, mixed with arbitrary text. */
const HOSTILE_PIECES = [
  '<', '>', '&', '"', "'", ']]>', '<!--', '-->', '<?pi x?>', '&amp;', '&#x85;', '&lt;', '</saml:AttributeValue>',
  'xmlns:xs="urn:evil"', '\r', '\n', '\r\n', '\t', ' ', '  ', '\u0085', '\u2028', '\u2029', '\u00A0', '\u200B',
  '\uFEFF', '\uFFFD', 'é', 'Å', '中文', '😀', '\u{10FFFF}', 'a', 'Z', '0', '=', ':', '/',
];

const hostileText = fc
  .array(fc.oneof(fc.constantFrom(...HOSTILE_PIECES), fc.string({ unit: 'grapheme', maxLength: 6 })), { maxLength: 12 })
  .map((parts) => parts.join(''));

/** Mostly XML-safe values; now and then a character XML cannot carry at all. */
const value = fc.oneof({ weight: 12, arbitrary: hostileText }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) });

const ATTRIBUTE_NAMES = ['AI-Agent-ID', 'Task-ID', 'Agent-Scope', 'Sensitivity-Tier', 'Model-Hash', 'Source-Commit', 'Training-Data-Version', 'Compute-Zone'];

const randomInput = fc.record({
  nameId: value,
  destinationSuffix: value,
  audienceSuffix: value,
  attributes: fc.array(fc.record({ name: fc.constantFrom(...ATTRIBUTE_NAMES), values: fc.array(value, { maxLength: 4 }) }), {
    maxLength: 8,
  }),
  inResponseTo: fc.option(fc.constant(newId()), { nil: undefined }),
  subjectAddress: fc.option(fc.constantFrom('203.0.113.7', '::1', '2001:db8::1'), { nil: undefined }),
  signResponse: fc.boolean(),
});

type RandomInput = typeof randomInput extends fc.Arbitrary<infer T> ? T : never;

function successInput(random: RandomInput): SuccessResponseInput {
  const now = new Date();
  const later = new Date(now.getTime() + 300_000);
  return {
    issuer: IDP,
    destination: `${ACS}?x=${random.destinationSuffix}`,
    inResponseTo: random.inResponseTo,
    audience: `${SP}#${random.audienceSuffix}`,
    nameId: random.nameId,
    nameIdFormat: NAMEID_FORMAT.persistent,
    responseId: newId(),
    assertionId: newId(),
    sessionIndex: newId(),
    issueInstant: now,
    notBefore: new Date(now.getTime() - 30_000),
    notOnOrAfter: later,
    sessionNotOnOrAfter: later,
    authnInstant: now,
    authnContextClassRef: AUTHN_CONTEXT.tlsClient,
    subjectAddress: random.subjectAddress,
    attributes: random.attributes,
    signResponse: random.signResponse,
  };
}

function allValues(input: SuccessResponseInput): string[] {
  return [input.nameId, input.destination, input.audience, ...input.attributes.flatMap((a) => a.values)];
}

const SIGNATURE_OPEN = '<ds:Signature ';
const SIGNATURE_CLOSE = '</ds:Signature>';

/** The wire text of an element without its enveloped signature: what our signer digested, before c14n's reference fix-up. */
function withoutSignature(xml: string, openTag: string, closeTag: string): string {
  const start = xml.indexOf(openTag);
  const end = xml.indexOf(closeTag, start) + closeTag.length;
  assert.ok(start >= 0 && end > start, `${openTag} not found`);
  const element = xml.slice(start, end);
  const sigStart = element.indexOf(SIGNATURE_OPEN);
  const sigEnd = element.indexOf(SIGNATURE_CLOSE, sigStart) + SIGNATURE_CLOSE.length;
  assert.ok(sigStart > 0, `no signature in ${openTag}`);
  return element.slice(0, sigStart) + element.slice(sigEnd);
}

function parse(xml: string): Element {
  // Warnings (a U+FFFD in a value, say) are expected here; errors are not.
  const onError = (level: 'warning' | 'error' | 'fatalError', message: string): void => {
    if (level !== 'warning') throw new Error(`xmldom ${level}: ${message}`);
  };
  const document = new DOMParser({ onError }).parseFromString(xml, 'text/xml');
  assert.ok(document.documentElement, 'not a document');
  return document.documentElement;
}

function directChild(parent: Element, namespace: string, localName: string): Element | undefined {
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE && (node as Element).namespaceURI === namespace && (node as Element).localName === localName) {
      return node as Element;
    }
  }
  return undefined;
}

/**
 * What a verifier computes for one signed element: xml-crypto's exclusive c14n
 * (with the PrefixList our Transform names) of the element with its own
 * Signature removed, and of that Signature's SignedInfo.
 */
function independentlyCanonicalised(signed: Element): { element: string; signedInfo: string; signature: Element } {
  const signature = directChild(signed, DSIG, 'Signature');
  assert.ok(signature, `${signed.localName} has no Signature child`);
  const signedInfo = directChild(signature, DSIG, 'SignedInfo');
  assert.ok(signedInfo);
  const transforms = signedInfo.getElementsByTagNameNS(DSIG, 'Transform');
  const prefixList = (transforms[transforms.length - 1] as Element)
    .getElementsByTagNameNS('http://www.w3.org/2001/10/xml-exc-c14n#', 'InclusiveNamespaces')[0]
    ?.getAttribute('PrefixList');
  assert.equal(prefixList, 'xs');
  const c14n = new ExclusiveCanonicalization();
  const canonicalSignedInfo = c14n.process(signedInfo, {});
  const copy = signed.cloneNode(true) as Element;
  copy.removeChild(directChild(copy, DSIG, 'Signature')!);
  return { element: c14n.process(copy, { inclusiveNamespacesPrefixList: ['xs'] }), signedInfo: canonicalSignedInfo, signature };
}

function assertSameBytes(ours: Buffer, theirs: string, what: string): void {
  if (ours.equals(Buffer.from(theirs, 'utf8'))) return;
  const mine = ours.toString('utf8');
  let at = 0;
  while (at < mine.length && mine[at] === theirs[at]) at++;
  assert.fail(`${what}: our canonical bytes differ from xml-crypto's at ${at}:\n ours: ${JSON.stringify(mine.slice(at - 40, at + 60))}\ntheirs: ${JSON.stringify(theirs.slice(at - 40, at + 60))}`);
}

/** The digest and signature value in our Signature must be what a verifier recomputes from its own c14n. */
function assertSignatureOver(canonical: { element: string; signedInfo: string; signature: Element }, key: SigningKey): void {
  const digest = canonical.signature.getElementsByTagNameNS(DSIG, 'DigestValue')[0]?.textContent;
  assert.equal(digest, createHash('sha256').update(canonical.element, 'utf8').digest('base64'), 'DigestValue');
  const signatureValue = canonical.signature.getElementsByTagNameNS(DSIG, 'SignatureValue')[0]?.textContent ?? '';
  const publicKey = new X509Certificate(key.certificatePem).publicKey;
  assert.ok(verify('sha256', Buffer.from(canonical.signedInfo, 'utf8'), publicKey, Buffer.from(signatureValue, 'base64')), 'SignatureValue');
}

function nodeSamlSp(key: SigningKey, signResponse: boolean): SAML {
  return new SAML({
    callbackUrl: ACS,
    entryPoint: 'https://idp.example.test/saml/sso',
    issuer: SP,
    audience: false,
    idpIssuer: IDP,
    idpCert: key.certificatePem,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: signResponse,
    validateInResponseTo: ValidateInResponseTo.never,
  });
}

describe('canonical-by-construction signing', function () {
  let key: SigningKey;

  before(async function () {
    key = await signingKey('Tessera canonical test');
  });

  describe('differential test against xml-crypto exclusive c14n', function () {
    it('writes Assertion and Response byte-for-byte as xml-crypto canonicalises them, over random values', function () {
      fc.assert(
        fc.property(randomInput, (random) => {
          const input = successInput(random);
          if (!allValues(input).every(isXmlSafe)) {
            assert.throws(() => buildSuccessResponse(input, key), (e: unknown) => isTesseraError(e) && e.code === 'invalid_value');
            return;
          }
          const xml = buildSuccessResponse(input, key);
          const response = parse(xml);
          const assertion = directChild(response, NS.assertion, 'Assertion');
          assert.ok(assertion);

          const assertionC14n = independentlyCanonicalised(assertion);
          assertSameBytes(canonicalBytes(withoutSignature(xml, '<saml:Assertion ', '</saml:Assertion>')), assertionC14n.element, 'Assertion');
          assertSignatureOver(assertionC14n, key);

          if (input.signResponse) {
            const responseC14n = independentlyCanonicalised(response);
            assertSameBytes(canonicalBytes(withoutSignature(xml, '<samlp:Response ', '</samlp:Response>')), responseC14n.element, 'Response');
            assertSignatureOver(responseC14n, key);
          } else {
            assert.equal(directChild(response, DSIG, 'Signature'), undefined);
          }
        }),
        { numRuns: 250 },
      );
    });

    it('writes a signed error Response byte-for-byte as xml-crypto canonicalises it', function () {
      fc.assert(
        fc.property(hostileText, (message) => {
          const xml = buildErrorResponse(
            {
              issuer: IDP,
              destination: ACS,
              inResponseTo: newId(),
              responseId: newId(),
              issueInstant: new Date(),
              topStatus: STATUS.responder,
              secondStatus: STATUS.requestDenied,
              statusMessage: message,
            },
            key,
          );
          const canonical = independentlyCanonicalised(parse(xml));
          assertSameBytes(canonicalBytes(withoutSignature(xml, '<samlp:Response ', '</samlp:Response>')), canonical.element, 'error Response');
          assertSignatureOver(canonical, key);
        }),
        { numRuns: 60 },
      );
    });

    it('sends NEL, LS and PS as character references but digests them raw, as c14n writes them', function () {
      const input = successInput({
        nameId: 'a\u0085b\u2028c\u2029d',
        destinationSuffix: 'e\u2028f',
        audienceSuffix: '',
        attributes: [{ name: 'Model-Hash', values: ['g\u0085h'] }],
        inResponseTo: undefined,
        subjectAddress: undefined,
        signResponse: true,
      });
      const xml = buildSuccessResponse(input, key);
      assert.doesNotMatch(xml, /[\u0085\u2028\u2029]/);
      assert.match(xml, /a&#x85;b&#x2028;c&#x2029;d/);
      const canonical = independentlyCanonicalised(parse(xml).getElementsByTagNameNS(NS.assertion, 'Assertion')[0] as Element);
      assert.match(canonical.element, /a\u0085b\u2028c\u2029d/);
      assertSignatureOver(canonical, key);
    });
  });

  describe('independent verifiers', function () {
    it('every signature verifies with xmlsec1 and node-saml, over random values', async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(randomInput, async (random) => {
          const input = successInput(random);
          if (!allValues(input).every(isXmlSafe)) return;
          const xml = buildSuccessResponse(input, key);
          const assertionSignature = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Assertion') });
          assert.ok(assertionSignature.ok, assertionSignature.output);
          if (input.signResponse) {
            const responseSignature = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Response') });
            assert.ok(responseSignature.ok, responseSignature.output);
          }
          const { profile } = await nodeSamlSp(key, input.signResponse).validatePostResponseAsync({
            SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'),
          });
          assert.ok(profile, 'node-saml returned no profile');
          assert.equal(profile.sessionIndex, input.sessionIndex);
        }),
        { numRuns: 25 },
      );
    });

    it('stays schema-valid (xmllint, OASIS protocol schema) with hostile values', async function () {
      const input = successInput({
        nameId: '<x>&"\r\n\t</saml:NameID>',
        destinationSuffix: '"><saml:Attribute',
        audienceSuffix: ']]>',
        attributes: [{ name: 'AI-Agent-ID', values: HOSTILE_PIECES }],
        inResponseTo: newId(),
        subjectAddress: '203.0.113.7',
        signResponse: true,
      });
      const result = await validateAgainstSamlSchema(buildSuccessResponse(input, key), 'protocol');
      assert.ok(result.ok, result.output);
    });

    it('signs the xs binding used inside xsi:type: rebinding xs breaks both signatures', async function () {
      const input = successInput({
        nameId: 'agent-1',
        destinationSuffix: '',
        audienceSuffix: '',
        attributes: [{ name: 'AI-Agent-ID', values: ['agent-1'] }],
        inResponseTo: undefined,
        subjectAddress: undefined,
        signResponse: true,
      });
      const xml = buildSuccessResponse(input, key);
      const binding = `xmlns:xs="${NS.xs}"`;
      assert.equal(xml.split(binding).length, 2, 'xs is declared once, on the Assertion');
      const rebound = xml.replace(binding, 'xmlns:xs="urn:attacker:types"');
      for (const signatureXPath of [signatureOf('Response'), signatureOf('Assertion')]) {
        const result = await xmlsec1Verify(rebound, key.certificatePem, { signatureXPath });
        assert.equal(result.ok, false, `${signatureXPath} still verified after rebinding xs`);
      }
      await assert.rejects(
        nodeSamlSp(key, false).validatePostResponseAsync({ SAMLResponse: Buffer.from(rebound, 'utf8').toString('base64') }),
        /signature/i,
      );
    });
  });

  describe('templates: compiled once per shape, filled per sign-on', function () {
    const ns = { a: 'urn:a', b: 'urn:b', xs: 'urn:xs' };
    const VALUES = 8;
    // Every way a value is written: ID, attribute, prefixed attribute, text, part of an
    // attribute, the same value twice, a value beside static text, and a child element's text.
    const build = (v: (index: number) => string) =>
      xmlElement(
        'a:root',
        { ID: v(0), z: v(1), 'b:y': v(2), ref: `#${v(3)}`, fixed: 'static & "quoted"' },
        [
          xmlElement('a:name', {}, [v(4)]),
          SIGNATURE_SLOT,
          xmlElement('b:leaf', { Format: v(5) }, ['static <text> ', v(6), xmlElement('a:inner', {}, [v(1)])]),
          xmlElement('a:value', { 'b:type': 'xs:string' }, [v(7)]),
        ],
        ns,
      );
    const options = { inclusivePrefixes: ['xs'] };

    it('writes byte for byte what signCanonical writes for the same values, over random values', function () {
      const template = new CanonicalSigningTemplate(build, VALUES, 0, options);
      fc.assert(
        fc.property(fc.array(value, { minLength: VALUES - 1, maxLength: VALUES - 1 }), (rest) => {
          const values = [newId(), ...rest];
          const general = () => signCanonical(build((index) => values[index]!), key, options).toString();
          const filled = () => template.sign(values, key).toString();
          if (!rest.every(isXmlSafe)) {
            const refusal = (e: unknown) => isTesseraError(e) && e.code === 'invalid_value';
            assert.throws(general, refusal);
            assert.throws(filled, refusal);
            return;
          }
          // RSA PKCS#1 v1.5 signatures are deterministic: equal bytes signed give equal documents.
          assert.equal(filled(), general());
        }),
        { numRuns: 300 },
      );
    });

    it('embeds a fragment where the template placed one, as renderCanonical does, and refuses one of another shape', function () {
      const signed = (id: string, text: string) =>
        signCanonical(xmlElement('a:signed', { ID: id }, [SIGNATURE_SLOT, xmlElement('a:text', {}, [text])], ns), key, options);
      const parent = (v: (index: number) => string, carried: CanonicalFragment) =>
        xmlElement('b:parent', { ID: v(0) }, [xmlElement('b:before', {}, [v(1)]), carried], { b: 'urn:b' });
      const template = renderTemplate((v, fragment) => parent(v, fragment(0, signed(newId(), 'example'))), 2, options.inclusivePrefixes);
      fc.assert(
        fc.property(hostileText.filter(isXmlSafe), hostileText.filter(isXmlSafe), (text, before) => {
          const carried = signed(newId(), text);
          const values = [newId(), before];
          assert.equal(template.fill(values, [carried]).xml, renderCanonical(parent((index) => values[index]!, carried), options.inclusivePrefixes).xml);
        }),
        { numRuns: 100 },
      );
      // Declares b as well: embedded where the parent renders b, c14n would leave its declaration out.
      const otherShape = signCanonical(xmlElement('a:signed', { ID: '_o', 'b:x': '1' }, [SIGNATURE_SLOT], ns), key, options);
      assert.throws(() => template.fill([newId(), 'x'], [otherShape]), (e: unknown) => isTesseraError(e) && e.code === 'internal');
      assert.throws(() => template.fill([newId(), 'x'], []), (e: unknown) => isTesseraError(e) && e.code === 'internal');
    });

    it('refuses a shape that leaves a value out or does not put the ID where it says', function () {
      const refused = (compile: () => unknown) => assert.throws(compile, (e: unknown) => isTesseraError(e) && e.code === 'internal');
      refused(() => new CanonicalSigningTemplate(build, VALUES + 1, 0, options));
      refused(() => new CanonicalSigningTemplate(build, VALUES, 1, options));
      refused(() => new CanonicalSigningTemplate((v) => xmlElement('a:root', { ID: v(0) }, [v(1)], ns), 2, 0, options));
      const template = new CanonicalSigningTemplate(build, VALUES, 0, options);
      refused(() => template.sign([newId()], key));
    });
  });

  describe('canonical builder guards', function () {
    const ns = { a: 'urn:a', b: 'urn:b' };

    it('declares a namespace where c14n renders it: first visible use, not again below', function () {
      const rendered = renderCanonical(
        xmlElement('a:root', { z: '1', 'b:y': '2', x: '3' }, [xmlElement('a:child', {}, [xmlElement('b:leaf')])], ns),
      );
      assert.equal(rendered.xml, '<a:root xmlns:a="urn:a" xmlns:b="urn:b" x="3" z="1" b:y="2"><a:child><b:leaf></b:leaf></a:child></a:root>');
      const c14n = new ExclusiveCanonicalization().process(parse(rendered.xml), {});
      assert.equal(rendered.xml, c14n);
    });

    it('refuses an undeclared prefix, an unprefixed element and a second signature slot', function () {
      const refused = (build: () => unknown) => assert.throws(build, (e: unknown) => isTesseraError(e) && e.code === 'internal');
      refused(() => renderCanonical(xmlElement('c:root', {}, [], ns)));
      refused(() => renderCanonical(xmlElement('root', {}, [], ns)));
      refused(() => renderCanonical(xmlElement('a:root', { 'c:attr': 'x' }, [], ns)));
      refused(() => renderCanonical(xmlElement('a:root', {}, [SIGNATURE_SLOT, SIGNATURE_SLOT], ns)));
    });

    it('refuses to embed a signed fragment where c14n would render it differently', function () {
      const fragment = signCanonical(xmlElement('a:signed', { ID: '_x' }, [SIGNATURE_SLOT], ns), key, { inclusivePrefixes: [] });
      // The parent renders a="urn:a" itself: c14n would drop the fragment's own declaration.
      assert.throws(() => renderCanonical(xmlElement('a:parent', {}, [fragment], ns)), isTesseraError);
      // Under another PrefixList the fragment's bytes are not its canonical form either.
      assert.throws(() => renderCanonical(xmlElement('b:parent', {}, [fragment], ns), ['a']), isTesseraError);
      // A parent that does not use a: keeps it canonical.
      assert.match(renderCanonical(xmlElement('b:parent', {}, [fragment], ns)).xml, /^<b:parent xmlns:b="urn:b"><a:signed xmlns:a="urn:a" ID="_x">/);
    });

    it('refuses to sign a document carrying opaque markup, which is not canonical by construction', function () {
      const element = xmlElement('a:root', { ID: '_y' }, [SIGNATURE_SLOT, new OpaqueMarkup('<other xmlns="urn:o"/>')], ns);
      assert.throws(() => signCanonical(element, key, { inclusivePrefixes: [] }), isTesseraError);
    });
  });
});
