import { strict as assert } from 'node:assert';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { DOMParser, type Element, type Node } from '@xmldom/xmldom';
import { SAML, SamlStatusError, ValidateInResponseTo, type CacheItem, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { certificateBody, generateSelfSigned, type SigningKey } from '../lib/keys/index.js';
import {
  AUTHN_CONTEXT,
  STATUS,
  buildErrorResponse,
  buildSuccessResponse,
  type ErrorResponseInput,
  type SamlAttribute,
  type SuccessResponseInput,
} from '../lib/saml/response.js';
import { escapeAttribute, escapeText } from '../lib/saml/xml-escape.js';
import { NAMEID_FORMAT, NS } from '../lib/saml/namespaces.js';
import { isTesseraError } from '../lib/common/errors.js';
import { signatureOf, validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

const IDP = 'https://idp.example.test/saml/metadata';
const SP = 'https://sp.example.test/shibboleth';
const ACS = 'https://sp.example.test/Shibboleth.sso/SAML2/POST';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

/** Values an attacker might plant in an agent's SCIM record, hoping to reshape the assertion. */
const HOSTILE_VALUES: readonly string[] = [
  'x</saml:AttributeValue><saml:AttributeValue>injected',
  '</saml:Attribute><saml:Attribute Name="AI-Agent-ID"><saml:AttributeValue>root',
  'before <!-- comment --> after',
  '<?xml-stylesheet href="evil"?>',
  'end of ]]> section <![CDATA[ x ]]>',
  `double " single ' ampersand & entity &amp; &lt;already&gt;`,
  'crlf\r\nlf\ncr\rend',
  'tab\tinside',
  'unicode é 中文 😀 zero\u200Bwidth nel\u0085 ls\u2028 ps\u2029',
];

/**
 * node-saml re-parses the canonical form of what it verified with xmldom 0.8,
 * which applies XML 1.1 line ends to NEL and LS. Canonical XML writes them
 * raw, so no IdP can prevent it; the DOM and xmlsec1 checks show we send them
 * intact.
 */
const asNodeSamlReadsIt = (value: string): string => value.replace(/[\u0085\u2028]/g, '\n');

async function testSigningKey(commonName: string): Promise<SigningKey> {
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
const plusSeconds = (at: Date, seconds: number): Date => new Date(at.getTime() + seconds * 1000);

function successInput(overrides: Partial<SuccessResponseInput> = {}): SuccessResponseInput {
  const now = new Date();
  return {
    issuer: IDP,
    destination: ACS,
    inResponseTo: newId(),
    audience: SP,
    nameId: 'agent-007',
    nameIdFormat: NAMEID_FORMAT.persistent,
    responseId: newId(),
    assertionId: newId(),
    sessionIndex: newId(),
    issueInstant: now,
    notBefore: plusSeconds(now, -30),
    notOnOrAfter: plusSeconds(now, 300),
    sessionNotOnOrAfter: plusSeconds(now, 600),
    authnInstant: now,
    authnContextClassRef: AUTHN_CONTEXT.tlsClient,
    subjectAddress: '203.0.113.7',
    attributes: [
      { name: 'AI-Agent-ID', values: ['agent-007'] },
      { name: 'Task-ID', values: ['task-42'] },
      { name: 'Agent-Scope', values: ['crm:read', 'crm:write'] },
      { name: 'Sensitivity-Tier', values: ['high'] },
      { name: 'Model-Hash', values: ['sha256:0f1e2d'] },
      { name: 'Compute-Zone', values: [] },
    ],
    signResponse: true,
    ...overrides,
  };
}

function errorInput(overrides: Partial<ErrorResponseInput> = {}): ErrorResponseInput {
  return {
    issuer: IDP,
    destination: ACS,
    inResponseTo: newId(),
    responseId: newId(),
    issueInstant: new Date(),
    topStatus: STATUS.responder,
    secondStatus: STATUS.requestDenied,
    statusMessage: 'task <42> is "COMPLETED" & closed',
    ...overrides,
  };
}

/** node-saml's request-ID cache, filled as if the SP had sent the AuthnRequest itself. */
class RequestIdCache implements CacheProvider {
  private readonly entries = new Map<string, CacheItem>();
  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    const item = { value, createdAt: Date.now() };
    this.entries.set(key, item);
    return item;
  }
  async getAsync(key: string): Promise<string | null> {
    return this.entries.get(key)?.value ?? null;
  }
  async removeAsync(key: string | null): Promise<string | null> {
    if (key === null) return null;
    const value = this.entries.get(key)?.value ?? null;
    this.entries.delete(key);
    return value;
  }
}

/** An independent SP: node-saml configured as strictly as it allows. */
async function serviceProvider(
  idpCertificatePem: string,
  input: { inResponseTo: string | undefined },
  wantAuthnResponseSigned = true,
): Promise<SAML> {
  const cache = new RequestIdCache();
  if (input.inResponseTo !== undefined) await cache.saveAsync(input.inResponseTo, new Date().toISOString());
  return new SAML({
    callbackUrl: ACS,
    entryPoint: 'https://idp.example.test/saml/sso',
    issuer: SP,
    audience: SP,
    idpIssuer: IDP,
    idpCert: idpCertificatePem,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned,
    validateInResponseTo: input.inResponseTo === undefined ? ValidateInResponseTo.never : ValidateInResponseTo.always,
    cacheProvider: cache,
  });
}

async function consume(sp: SAML, xml: string): Promise<Profile> {
  const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') });
  assert.ok(profile, 'node-saml returned no profile');
  return profile;
}

function parse(xml: string): Element {
  const document = new DOMParser().parseFromString(xml, 'text/xml');
  assert.ok(document.documentElement);
  return document.documentElement;
}

function childElements(parent: Element): Element[] {
  const children: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE) children.push(node as Element);
  }
  return children;
}

const names = (parent: Element): string[] => childElements(parent).map((child) => `${child.namespaceURI} ${child.localName}`);

function only(parent: Element | Node, namespace: string, localName: string): Element {
  const found = (parent as Element).getElementsByTagNameNS(namespace, localName);
  assert.equal(found.length, 1, `expected exactly one ${localName}`);
  return found[0] as Element;
}

function everyNode(root: Node, visit: (node: Node) => void): void {
  visit(root);
  for (let node = root.firstChild; node !== null; node = node.nextSibling) everyNode(node, visit);
}

/** Attribute values as a DOM-reading SP sees them, keyed by attribute Name. */
function attributeValues(root: Element): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const attributes = root.getElementsByTagNameNS(NS.assertion, 'Attribute');
  for (let i = 0; i < attributes.length; i++) {
    const attribute = attributes[i] as Element;
    const values = childElements(attribute).map((value) => value.textContent ?? '');
    result.set(attribute.getAttribute('Name') ?? '', values);
  }
  return result;
}

/** Replaces the one occurrence of `from`, failing if there is none or several: a tamper must land. */
function tamper(xml: string, from: string, to: string): string {
  assert.equal(xml.split(from).length, 2, `expected ${from} exactly once`);
  return xml.replace(from, to);
}

describe('SAML Response builder', function () {
  let key: SigningKey;
  let otherKey: SigningKey;

  before(async function () {
    key = await testSigningKey('Tessera test signing');
    otherKey = await testSigningKey('Somebody else');
  });

  describe('buildSuccessResponse', function () {
    it('validates against the OASIS protocol schema, hostile values included', async function () {
      const hostile = successInput({ attributes: [{ name: 'AI-Agent-ID', values: HOSTILE_VALUES }] });
      for (const input of [successInput(), hostile, successInput({ signResponse: false })]) {
        const result = await validateAgainstSamlSchema(buildSuccessResponse(input, key), 'protocol');
        assert.ok(result.ok, result.output);
      }
    });

    it('orders Response and Assertion children as the schema requires, each signature right after its Issuer', function () {
      const input = successInput();
      const response = parse(buildSuccessResponse(input, key));
      assert.deepEqual(names(response), [
        `${NS.assertion} Issuer`,
        `${DSIG} Signature`,
        `${NS.protocol} Status`,
        `${NS.assertion} Assertion`,
      ]);
      const assertion = only(response, NS.assertion, 'Assertion');
      assert.deepEqual(names(assertion), [
        `${NS.assertion} Issuer`,
        `${DSIG} Signature`,
        `${NS.assertion} Subject`,
        `${NS.assertion} Conditions`,
        `${NS.assertion} AuthnStatement`,
        `${NS.assertion} AttributeStatement`,
      ]);
      const referenceOf = (parent: Element): string | null =>
        only(childElements(parent)[1] as Element, DSIG, 'Reference').getAttribute('URI');
      assert.equal(response.getAttribute('ID'), input.responseId);
      assert.equal(assertion.getAttribute('ID'), input.assertionId);
      assert.equal(referenceOf(response), `#${input.responseId}`);
      assert.equal(referenceOf(assertion), `#${input.assertionId}`);
      const certificates = response.getElementsByTagNameNS(DSIG, 'X509Certificate');
      assert.equal(certificates.length, 2);
      for (let i = 0; i < certificates.length; i++) assert.equal(certificates[i]?.textContent, key.certificateBase64);
    });

    it('carries the subject, conditions, session and status the design names', function () {
      const input = successInput();
      const response = parse(buildSuccessResponse(input, key));
      const iso = (at: Date): string => at.toISOString().replace(/\.\d{3}Z$/, 'Z');
      assert.equal(response.getAttribute('Destination'), ACS);
      assert.equal(response.getAttribute('InResponseTo'), input.inResponseTo);
      assert.equal(response.getAttribute('Version'), '2.0');
      assert.equal(only(response, NS.protocol, 'StatusCode').getAttribute('Value'), STATUS.success);
      const nameId = only(response, NS.assertion, 'NameID');
      assert.equal(nameId.textContent, 'agent-007');
      assert.equal(nameId.getAttribute('Format'), NAMEID_FORMAT.persistent);
      assert.equal(only(response, NS.assertion, 'SubjectConfirmation').getAttribute('Method'), 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
      const confirmation = only(response, NS.assertion, 'SubjectConfirmationData');
      assert.equal(confirmation.getAttribute('Recipient'), ACS);
      assert.equal(confirmation.getAttribute('InResponseTo'), input.inResponseTo);
      assert.equal(confirmation.getAttribute('NotOnOrAfter'), iso(input.notOnOrAfter));
      assert.equal(confirmation.getAttribute('Address'), '203.0.113.7');
      const conditions = only(response, NS.assertion, 'Conditions');
      assert.equal(conditions.getAttribute('NotBefore'), iso(input.notBefore));
      assert.equal(conditions.getAttribute('NotOnOrAfter'), iso(input.notOnOrAfter));
      assert.equal(only(conditions, NS.assertion, 'Audience').textContent, SP);
      const authn = only(response, NS.assertion, 'AuthnStatement');
      assert.equal(authn.getAttribute('SessionIndex'), input.sessionIndex);
      assert.equal(authn.getAttribute('SessionNotOnOrAfter'), iso(input.sessionNotOnOrAfter));
      assert.equal(authn.getAttribute('AuthnInstant'), iso(input.authnInstant));
      assert.equal(only(authn, NS.assertion, 'AuthnContextClassRef').textContent, AUTHN_CONTEXT.tlsClient);
      const statement = only(response, NS.assertion, 'AttributeStatement');
      const first = childElements(statement)[0] as Element;
      assert.equal(first.getAttribute('NameFormat'), 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic');
      const value = childElements(first)[0] as Element;
      assert.equal(value.getAttributeNS(NS.xsi, 'type'), 'xs:string');
      assert.equal(value.lookupNamespaceURI('xs'), NS.xs);
    });

    it('is verified by xmlsec1 with only the IdP certificate: the Response signature and the Assertion signature alone', async function () {
      const xml = buildSuccessResponse(successInput({ attributes: [{ name: 'AI-Agent-ID', values: HOSTILE_VALUES }] }), key);
      const whole = await xmlsec1Verify(xml, key.certificatePem);
      assert.ok(whole.ok, whole.output);
      const responseSignature = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Response') });
      assert.ok(responseSignature.ok, responseSignature.output);
      const assertionSignature = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Assertion') });
      assert.ok(assertionSignature.ok, assertionSignature.output);
    });

    it('is refused by xmlsec1 against any other certificate, whatever KeyInfo says', async function () {
      const xml = buildSuccessResponse(successInput(), key);
      for (const signatureXPath of [signatureOf('Response'), signatureOf('Assertion')]) {
        const result = await xmlsec1Verify(xml, otherKey.certificatePem, { signatureXPath });
        assert.equal(result.ok, false, `${signatureXPath} verified with the wrong certificate`);
      }
    });

    it('is accepted by an independent SP (node-saml), which reads NameID, session and attributes back', async function () {
      const input = successInput();
      const sp = await serviceProvider(key.certificatePem, input);
      const profile = await consume(sp, buildSuccessResponse(input, key));
      assert.equal(profile.issuer, IDP);
      assert.equal(profile.nameID, 'agent-007');
      assert.equal(profile.nameIDFormat, NAMEID_FORMAT.persistent);
      assert.equal(profile.sessionIndex, input.sessionIndex);
      assert.deepEqual(profile.attributes, {
        'AI-Agent-ID': 'agent-007',
        'Task-ID': 'task-42',
        'Agent-Scope': ['crm:read', 'crm:write'],
        'Sensitivity-Tier': 'high',
        'Model-Hash': 'sha256:0f1e2d',
      });
    });

    it('is accepted by node-saml for IdP-initiated sign-on, with no InResponseTo anywhere', async function () {
      const input = successInput({ inResponseTo: undefined });
      const xml = buildSuccessResponse(input, key);
      assert.doesNotMatch(xml, /InResponseTo/);
      const profile = await consume(await serviceProvider(key.certificatePem, input), xml);
      assert.equal(profile.nameID, 'agent-007');
      const schema = await validateAgainstSamlSchema(xml, 'protocol');
      assert.ok(schema.ok, schema.output);
    });

    it('delivers hostile values literally, each in exactly one AttributeValue, to node-saml and to a DOM reader', async function () {
      const attributes: SamlAttribute[] = [
        { name: 'AI-Agent-ID', values: ['agent-007'] },
        { name: 'Model-Hash', values: HOSTILE_VALUES },
        { name: 'Task-ID', values: [HOSTILE_VALUES[0] ?? ''] },
      ];
      const input = successInput({
        attributes,
        nameId: `agent "<&>" ]]>`,
        destination: `${ACS}?a=1&b="2"\t<x>`,
      });
      const xml = buildSuccessResponse(input, key);

      const root = parse(xml);
      const expected = new Map(attributes.map((attribute) => [attribute.name, [...attribute.values]]));
      assert.deepEqual(attributeValues(root), expected);
      assert.equal(root.getElementsByTagNameNS(NS.assertion, 'AttributeValue').length, HOSTILE_VALUES.length + 2);
      everyNode(root, (node) => {
        assert.ok(
          node.nodeType === node.ELEMENT_NODE || node.nodeType === node.TEXT_NODE,
          `unexpected node type ${node.nodeType}: ${node.nodeName}`,
        );
      });
      assert.equal(root.getAttribute('Destination'), input.destination);
      assert.equal(only(root, NS.assertion, 'SubjectConfirmationData').getAttribute('Recipient'), input.destination);

      const profile = await consume(await serviceProvider(key.certificatePem, input), xml);
      assert.equal(profile.nameID, input.nameId);
      assert.deepEqual(profile.attributes, {
        'AI-Agent-ID': 'agent-007',
        'Model-Hash': HOSTILE_VALUES.map(asNodeSamlReadsIt),
        'Task-ID': HOSTILE_VALUES[0],
      });
      const verified = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Assertion') });
      assert.ok(verified.ok, verified.output);
    });

    it('is rejected by node-saml and xmlsec1 once an attribute value is changed after signing', async function () {
      const input = successInput();
      const forged = tamper(buildSuccessResponse(input, key), '>sha256:0f1e2d<', '>sha256:forged<');
      await assert.rejects(consume(await serviceProvider(key.certificatePem, input), forged), /signature/i);
      for (const signatureXPath of [signatureOf('Response'), signatureOf('Assertion')]) {
        const result = await xmlsec1Verify(forged, key.certificatePem, { signatureXPath });
        assert.equal(result.ok, false, `${signatureXPath} still verified after tampering`);
      }
    });

    it('leaves the Response unsigned but still signs the Assertion when signResponse is false', async function () {
      const input = successInput({ signResponse: false });
      const xml = buildSuccessResponse(input, key);
      const response = parse(xml);
      assert.deepEqual(names(response), [`${NS.assertion} Issuer`, `${NS.protocol} Status`, `${NS.assertion} Assertion`]);
      assert.equal(response.getElementsByTagNameNS(DSIG, 'Signature').length, 1);
      const assertionSignature = await xmlsec1Verify(xml, key.certificatePem, { signatureXPath: signatureOf('Assertion') });
      assert.ok(assertionSignature.ok, assertionSignature.output);

      const lenient = await serviceProvider(key.certificatePem, input, false);
      assert.equal((await consume(lenient, xml)).nameID, 'agent-007');
      const strict = await serviceProvider(key.certificatePem, input, true);
      await assert.rejects(consume(strict, xml), /Invalid document signature/);
      const forged = tamper(xml, '>task-42<', '>task-666<');
      await assert.rejects(consume(await serviceProvider(key.certificatePem, input, false), forged), /signature/i);
    });

    it('never produces SHA-1: every algorithm is RSA-SHA256, SHA-256, exclusive c14n or enveloped-signature', function () {
      const xml = buildSuccessResponse(successInput(), key);
      assert.doesNotMatch(xml, /sha1|sha-1/i);
      const allowed = new Set([
        'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        'http://www.w3.org/2001/04/xmlenc#sha256',
        'http://www.w3.org/2001/10/xml-exc-c14n#',
        'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
      ]);
      const algorithms = [...xml.matchAll(/Algorithm="([^"]*)"/g)].map((match) => match[1]);
      assert.equal(algorithms.length, 10);
      for (const algorithm of algorithms) assert.ok(allowed.has(algorithm ?? ''), `unexpected algorithm ${algorithm}`);
    });

    it('omits attributes without values, and the AttributeStatement when none is left', async function () {
      const some = parse(buildSuccessResponse(successInput(), key));
      assert.equal(attributeValues(some).has('Compute-Zone'), false);
      const none = buildSuccessResponse(successInput({ attributes: [{ name: 'Compute-Zone', values: [] }] }), key);
      assert.equal(parse(none).getElementsByTagNameNS(NS.assertion, 'AttributeStatement').length, 0);
      const schema = await validateAgainstSamlSchema(none, 'protocol');
      assert.ok(schema.ok, schema.output);
    });

    it('omits SubjectConfirmationData@Address when the agent address is unknown', function () {
      const xml = buildSuccessResponse(successInput({ subjectAddress: undefined }), key);
      assert.equal(only(parse(xml), NS.assertion, 'SubjectConfirmationData').hasAttribute('Address'), false);
    });

    it('refuses a value XML 1.0 cannot carry rather than emit a broken document', function () {
      for (const value of ['bell\u0007', 'nul\u0000', 'lone \uD800 surrogate', '\uFFFE']) {
        assert.throws(
          () => buildSuccessResponse(successInput({ attributes: [{ name: 'Model-Hash', values: [value] }] }), key),
          (error: unknown) => isTesseraError(error) && error.code === 'invalid_value',
        );
      }
    });

    it('refuses an ID that is not an NCName, since signature references point at it', function () {
      assert.throws(() => buildSuccessResponse(successInput({ assertionId: '1"bad' }), key), isTesseraError);
    });
  });

  describe('buildErrorResponse', function () {
    it('is a signed, schema-valid Response with both status codes, the message and no assertion', async function () {
      const input = errorInput();
      const xml = buildErrorResponse(input, key);
      const schema = await validateAgainstSamlSchema(xml, 'protocol');
      assert.ok(schema.ok, schema.output);
      const verified = await xmlsec1Verify(xml, key.certificatePem);
      assert.ok(verified.ok, verified.output);

      const response = parse(xml);
      assert.deepEqual(names(response), [`${NS.assertion} Issuer`, `${DSIG} Signature`, `${NS.protocol} Status`]);
      assert.equal(response.getAttribute('InResponseTo'), input.inResponseTo);
      assert.equal(response.getAttribute('Destination'), ACS);
      const top = childElements(only(response, NS.protocol, 'Status'))[0] as Element;
      assert.equal(top.getAttribute('Value'), STATUS.responder);
      assert.equal((childElements(top)[0] as Element).getAttribute('Value'), STATUS.requestDenied);
      assert.equal(only(response, NS.protocol, 'StatusMessage').textContent, input.statusMessage);
      assert.equal(response.getElementsByTagNameNS(NS.assertion, 'Assertion').length, 0);
      assert.doesNotMatch(xml, /sha1/i);
    });

    it('reaches node-saml as the status error it names', async function () {
      const input = errorInput();
      const sp = await serviceProvider(key.certificatePem, input);
      await assert.rejects(consume(sp, buildErrorResponse(input, key)), (error: unknown) => {
        assert.ok(error instanceof SamlStatusError, String(error));
        assert.match(error.message, /Responder/);
        assert.match(error.message, /task <42> is "COMPLETED" & closed/);
        assert.match(error.xmlStatus, new RegExp(STATUS.requestDenied));
        return true;
      });
    });

    it('writes a lone top-level code when there is no second-level code or message', async function () {
      const input = errorInput({ topStatus: STATUS.requester, secondStatus: undefined, statusMessage: undefined, inResponseTo: undefined });
      const xml = buildErrorResponse(input, key);
      const status = only(parse(xml), NS.protocol, 'Status');
      assert.deepEqual(names(status), [`${NS.protocol} StatusCode`]);
      assert.equal(childElements(childElements(status)[0] as Element).length, 0);
      assert.doesNotMatch(xml, /InResponseTo/);
      const schema = await validateAgainstSamlSchema(xml, 'protocol');
      assert.ok(schema.ok, schema.output);
    });

    it('is refused by xmlsec1 once its status is changed', async function () {
      const forged = tamper(buildErrorResponse(errorInput(), key), STATUS.requestDenied, STATUS.authnFailed);
      assert.equal((await xmlsec1Verify(forged, key.certificatePem)).ok, false);
    });
  });

  describe('XML escaping', function () {
    it('escapes text as Canonical XML does, plus NEL, LS and PS', function () {
      assert.equal(
        escapeText(`a&b<c>d"e'f\tg\nh\ri\u0085j\u2028k\u2029l`),
        `a&amp;b&lt;c&gt;d"e'f\tg\nh&#xD;i&#x85;j&#x2028;k&#x2029;l`,
      );
    });

    it('escapes attribute values as Canonical XML does, plus NEL, LS and PS', function () {
      assert.equal(
        escapeAttribute(`a&b<c>d"e'f\tg\nh\ri\u0085j\u2028k\u2029l`),
        `a&amp;b&lt;c>d&quot;e'f&#x9;g&#xA;h&#xD;i&#x85;j&#x2028;k&#x2029;l`,
      );
    });
  });
});
