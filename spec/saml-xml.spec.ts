import assert from 'node:assert/strict';
import { isTesseraError } from '../lib/common/errors.js';
import type { ErrorCode } from '../lib/common/errors.js';
import {
  DEFAULT_MAX_DEPTH,
  NS,
  attribute,
  childrenNamed,
  descendantsNamed,
  parseSafeXml,
  parseXsBoolean,
  rootElement,
  trimmedText,
} from '../lib/saml/xml.js';
import { SOAP_ENVELOPE_NAMESPACE, validateSamlMessage } from '../lib/saml/schema-validation.js';
import type { SamlMessageKind } from '../lib/saml/schema-validation.js';

const LIMITS = { maxBytes: 64 * 1024 };

function refusal(xml: string, pattern: RegExp, limits: { maxBytes: number; maxDepth?: number } = LIMITS, code: ErrorCode = 'saml_malformed_request'): void {
  assert.throws(
    () => parseSafeXml(xml, limits, code),
    (error: unknown) => isTesseraError(error) && error.code === code && pattern.test(error.message),
  );
}

function nested(depth: number): string {
  return '<a>'.repeat(depth) + '</a>'.repeat(depth);
}

describe('parseSafeXml', () => {
  describe('accepts', () => {
    it('a namespaced document with an XML declaration, comments and a BOM', () => {
      const xml =
        '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- leading comment -->\n' +
        `<samlp:AuthnRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="_1" Version="2.0">` +
        '<saml:Issuer>\n  https://sp.example.com/saml\n</saml:Issuer><!-- inside --></samlp:AuthnRequest>\n';
      const root = rootElement(parseSafeXml(xml, LIMITS, 'saml_malformed_request'));
      assert.equal(root.localName, 'AuthnRequest');
      assert.equal(attribute(root, 'ID'), '_1');
      assert.equal(attribute(root, 'Destination'), undefined);
      const [issuer] = childrenNamed(root, NS.assertion, 'Issuer');
      assert.ok(issuer);
      assert.equal(trimmedText(issuer), 'https://sp.example.com/saml');
    });

    it('exactly maxBytes of UTF-8 and exactly maxDepth levels', () => {
      const xml = `<r>${'é'.repeat(10)}</r>`;
      const bytes = Buffer.byteLength(xml);
      assert.ok(parseSafeXml(xml, { maxBytes: bytes }, 'sp_metadata_invalid'));
      assert.ok(parseSafeXml(nested(5), { maxBytes: 1000, maxDepth: 5 }, 'sp_metadata_invalid'));
      assert.ok(parseSafeXml(nested(DEFAULT_MAX_DEPTH), LIMITS, 'sp_metadata_invalid'));
    });

    it('markup-like text in comments, CDATA and attribute values without counting it as nesting', () => {
      const xml = '<r a="b>b>b" c=\'>\'><!-- <b><b><b><b> --><![CDATA[<b><b><b><b>]]><b/></r>';
      assert.ok(parseSafeXml(xml, { maxBytes: 1000, maxDepth: 2 }, 'saml_malformed_request'));
    });
  });

  describe('refuses, with the caller\'s error code', () => {
    it('more UTF-8 bytes than maxBytes, even when the string has fewer characters', () => {
      const xml = `<r>${'é'.repeat(600)}</r>`;
      assert.ok(xml.length < 1000);
      refusal(xml, /over the limit of 1000/, { maxBytes: 1000 }, 'sp_metadata_invalid');
    });

    it('a DOCTYPE, whatever its case, before any parser sees it', () => {
      refusal('<!DOCTYPE r><r/>', /DOCTYPE/);
      refusal('<!doctype r [<!ELEMENT r ANY>]><r/>', /DOCTYPE/);
      refusal('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', /DOCTYPE/, LIMITS, 'sp_metadata_invalid');
    });

    it('an ENTITY declaration even without a DOCTYPE', () => {
      refusal('<r><!ENTITY x "y"></r>', /ENTITY/);
    });

    it('processing instructions other than the XML declaration', () => {
      refusal('<r><?php echo 1; ?></r>', /processing instruction/);
      refusal('<r/><?xml-stylesheet href="x.xsl"?>', /processing instruction/);
      refusal('<?xml-stylesheet href="x.xsl"?><r/>', /processing instruction/);
      refusal(' <?xml version="1.0"?><r/>', /processing instruction|not well-formed/);
    });

    it('XML that xmldom would only warn about or recover from', () => {
      refusal('<r><a></r>', /not well-formed/);
      refusal('<r><x:a/></r>', /not well-formed/);
      refusal('<r>&undefined;</r>', /not well-formed/);
      refusal('<r a="1" a="2"/>', /not well-formed/);
      refusal('<r a=1/>', /not well-formed/);
      refusal('', /not well-formed/);
      refusal('just text', /not well-formed/);
    });

    it('characters XML 1.0 does not allow', () => {
      refusal('<r>\u0001</r>', /characters/);
      refusal('<r>\uD800</r>', /characters/);
    });

    it('more than one root, or text beside the root', () => {
      refusal('<r/><s/>', /not well-formed|exactly one root/);
      refusal('<r/>trailing', /not well-formed|outside the root/);
      refusal('leading<r/>', /not well-formed|outside the root/);
    });

    it('nesting deeper than maxDepth (default 64)', () => {
      refusal(nested(6), /deeper than 5/, { maxBytes: 1000, maxDepth: 5 });
      refusal(nested(DEFAULT_MAX_DEPTH + 1), /deeper than 64/);
    });

    it('a 100,000-level document quickly, before building its tree', () => {
      const started = process.hrtime.bigint();
      refusal(nested(100_000), /deeper than 64/, { maxBytes: 1_000_000 });
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(elapsedMs < 500, `took ${elapsedMs} ms`);
    });
  });

  it('names the document in its messages', () => {
    assert.throws(() => parseSafeXml('<!DOCTYPE r><r/>', LIMITS, 'sp_metadata_invalid', 'metadata'), { message: 'metadata contains a DOCTYPE declaration' });
    assert.throws(() => parseSafeXml('<r>', LIMITS, 'sp_metadata_invalid', 'metadata'), /^TesseraError: metadata is not well-formed XML/);
  });

  describe('helpers', () => {
    it('find children and descendants by namespace and local name, in document order', () => {
      const xml = `<m:r xmlns:m="${NS.metadata}" xmlns:o="urn:other"><m:a n="1"><m:a n="2"/></m:a><o:a n="x"/><m:a n="3"/></m:r>`;
      const root = rootElement(parseSafeXml(xml, LIMITS, 'sp_metadata_invalid'));
      assert.deepEqual(childrenNamed(root, NS.metadata, 'a').map((e) => attribute(e, 'n')), ['1', '3']);
      assert.deepEqual(descendantsNamed(root, NS.metadata, 'a').map((e) => attribute(e, 'n')), ['1', '2', '3']);
    });

    it('parse xs:boolean strictly', () => {
      assert.equal(parseXsBoolean('true'), true);
      assert.equal(parseXsBoolean('1'), true);
      assert.equal(parseXsBoolean(' false '), false);
      assert.equal(parseXsBoolean('0'), false);
      assert.equal(parseXsBoolean('yes'), undefined);
      assert.equal(parseXsBoolean('TRUE'), undefined);
    });
  });
});

describe('validateSamlMessage (OASIS SAML 2.0 schemas, offline)', () => {
  const samlp = `xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}"`;
  const header = (name: string, extra = '') =>
    `<samlp:${name} ${samlp} ID="_m1" Version="2.0" IssueInstant="2026-03-01T10:00:00Z"${extra}><saml:Issuer>https://sp.example.test/saml</saml:Issuer>`;
  const authnRequest = `${header('AuthnRequest')}<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>`;
  const logoutRequest = `${header('LogoutRequest')}<saml:NameID>agent-1</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>`;
  const logoutResponse =
    `${header('LogoutResponse', ' InResponseTo="_r1"')}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
  const soap = (body: string) => `<soap:Envelope xmlns:soap="${SOAP_ENVELOPE_NAMESPACE}"><soap:Body>${body}</soap:Body></soap:Envelope>`;

  function refused(xml: string, kind: SamlMessageKind, pattern: RegExp, code: ErrorCode = 'saml_malformed_request'): void {
    assert.throws(
      () => validateSamlMessage(xml, kind),
      (error: unknown) => isTesseraError(error) && error.code === code && pattern.test(error.message),
    );
  }

  it('accepts each kind of inbound message in its valid form', () => {
    validateSamlMessage(authnRequest, 'AuthnRequest');
    validateSamlMessage(logoutRequest, 'LogoutRequest');
    validateSamlMessage(logoutResponse, 'LogoutResponse');
    validateSamlMessage(soap(logoutRequest), 'SoapEnvelope');
  });

  it('refuses a message whose root is not the expected kind, even when it is valid SAML', () => {
    refused(logoutRequest, 'AuthnRequest', /root element \{urn:oasis:names:tc:SAML:2.0:protocol\}LogoutRequest, not samlp:AuthnRequest/);
    refused(authnRequest, 'SpMetadata', /not md:EntityDescriptor/, 'sp_metadata_invalid');
  });

  it('names the first schema violation: order, cardinality, types, unknown elements and attributes', () => {
    refused(authnRequest.replace('<samlp:NameIDPolicy', '<samlp:Bogus/><samlp:NameIDPolicy'), 'AuthnRequest', /Bogus': This element is not expected/);
    refused(authnRequest.replace(' Version="2.0"', ''), 'AuthnRequest', /attribute 'Version' is required/);
    refused(authnRequest.replace('2026-03-01T10:00:00Z', 'yesterday'), 'AuthnRequest', /'yesterday' is not a valid value of the atomic type 'xs:dateTime'/);
    refused(authnRequest.replace('ID="_m1"', 'ID="1 not an NCName"'), 'AuthnRequest', /xs:ID/);
    refused(authnRequest.replace(' Version=', ' Evil="1" Version='), 'AuthnRequest', /attribute 'Evil' is not allowed/);
    refused(logoutRequest.replace('<saml:NameID>agent-1</saml:NameID>', ''), 'LogoutRequest', /Missing child element|not expected/);
  });

  it('validates the message inside a SOAP Body, not only the envelope', () => {
    refused(soap(logoutRequest.replace(' Version="2.0"', '')), 'SoapEnvelope', /attribute 'Version' is required/);
  });

  it('refuses duplicate xs:ID values anywhere in the message (a signature-wrapping precondition)', () => {
    const twice = authnRequest.replace('<samlp:NameIDPolicy', '<samlp:Extensions><x:a xmlns:x="urn:x"><samlp:AuthnRequest ID="_m1" Version="2.0" IssueInstant="2026-03-01T10:00:00Z"/></x:a></samlp:Extensions><samlp:NameIDPolicy');
    refused(twice, 'AuthnRequest', /_m1/);
  });

  it('refuses a DTD on its own, without relying on the caller having run parseSafeXml', () => {
    refused(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${authnRequest}`, 'AuthnRequest', /contains a DTD/);
    refused('<samlp:AuthnRequest', 'AuthnRequest', /not well-formed/);
  });

  it('costs well under a millisecond per AuthnRequest once the schemas are compiled', () => {
    validateSamlMessage(authnRequest, 'AuthnRequest');
    const rounds = 1000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i += 1) validateSamlMessage(authnRequest, 'AuthnRequest');
    const microseconds = Number(process.hrtime.bigint() - started) / 1e3 / rounds;
    console.log(`      schema validation: ${microseconds.toFixed(0)} µs per AuthnRequest (${rounds} rounds)`);
    assert.ok(microseconds < 2000, `${microseconds} µs per message`);
  });
});
