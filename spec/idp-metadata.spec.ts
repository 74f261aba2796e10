import { strict as assert } from 'node:assert';
import { createPrivateKey } from 'node:crypto';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { certificateBody, generateSelfSigned, type SigningKey } from '../lib/keys/index.js';
import { buildIdpMetadata, type IdpMetadataInput } from '../lib/saml/idp-metadata.js';
import { NAMEID_FORMAT, NS } from '../lib/saml/namespaces.js';
import { isTesseraError } from '../lib/common/errors.js';
import { validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

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

/** Each child as "LocalName key=value …" over the attributes that matter to an SP. */
function describeChild(child: Element): string {
  const shown = ['use', 'Binding', 'Location']
    .filter((name) => child.hasAttribute(name))
    .map((name) => `${name}=${child.getAttribute(name)}`);
  const text = child.localName === 'NameIDFormat' ? [child.textContent ?? ''] : [];
  return [child.localName, ...shown, ...text].join(' ');
}

describe('IdP metadata', function () {
  let current: SigningKey;
  let next: SigningKey;
  let input: IdpMetadataInput;

  before(async function () {
    current = await testSigningKey('Tessera current');
    next = await testSigningKey('Tessera next');
    input = {
      entityId: 'https://idp.example.test/saml/metadata',
      ssoUrl: 'https://idp.example.test/saml/sso',
      sloUrl: 'https://idp.example.test/saml/slo',
      signingCertificates: [current.certificatePem, next.certificatePem],
      validUntil: new Date('2031-02-03T04:05:06.789Z'),
      id: '_metadata1',
    };
  });

  it('validates against the OASIS metadata schema', async function () {
    const result = await validateAgainstSamlSchema(buildIdpMetadata(input, current), 'metadata');
    assert.ok(result.ok, result.output);
  });

  it('is verified by xmlsec1 with only the current certificate', async function () {
    const xml = buildIdpMetadata(input, current);
    const verified = await xmlsec1Verify(xml, current.certificatePem);
    assert.ok(verified.ok, verified.output);
    const wrongKey = await xmlsec1Verify(xml, next.certificatePem);
    assert.equal(wrongKey.ok, false, 'verified with a certificate that did not sign it');
  });

  it('is refused by xmlsec1 once an endpoint is changed after signing', async function () {
    const xml = buildIdpMetadata(input, current);
    const forged = xml.replaceAll('https://idp.example.test/saml/sso', 'https://attacker.example/sso');
    assert.notEqual(forged, xml);
    assert.equal((await xmlsec1Verify(forged, current.certificatePem)).ok, false);
  });

  it('puts an enveloped signature over the whole descriptor as its first child', function () {
    const root = parse(buildIdpMetadata(input, current));
    assert.equal(root.namespaceURI, NS.metadata);
    assert.equal(root.localName, 'EntityDescriptor');
    assert.equal(root.getAttribute('ID'), '_metadata1');
    assert.equal(root.getAttribute('entityID'), input.entityId);
    assert.equal(root.getAttribute('validUntil'), '2031-02-03T04:05:06Z');
    const [signature, descriptor, ...rest] = childElements(root);
    assert.equal(rest.length, 0);
    assert.equal(signature?.namespaceURI, DSIG);
    assert.equal(signature?.localName, 'Signature');
    assert.equal(signature?.getElementsByTagNameNS(DSIG, 'Reference')[0]?.getAttribute('URI'), '#_metadata1');
    assert.equal(signature?.getElementsByTagNameNS(DSIG, 'X509Certificate')[0]?.textContent, current.certificateBase64);
    assert.equal(descriptor?.localName, 'IDPSSODescriptor');
  });

  it('describes one IdP SSO role in schema order: keys, logout, name ID formats, sign-on', function () {
    const descriptor = parse(buildIdpMetadata(input, current)).getElementsByTagNameNS(NS.metadata, 'IDPSSODescriptor')[0];
    assert.ok(descriptor);
    assert.equal(descriptor.getAttribute('protocolSupportEnumeration'), NS.protocol);
    assert.equal(descriptor.getAttribute('WantAuthnRequestsSigned'), 'false');
    assert.deepEqual(childElements(descriptor).map(describeChild), [
      'KeyDescriptor use=signing',
      'KeyDescriptor use=signing',
      `SingleLogoutService Binding=${REDIRECT} Location=${input.sloUrl}`,
      `SingleLogoutService Binding=${POST} Location=${input.sloUrl}`,
      `NameIDFormat ${NAMEID_FORMAT.persistent}`,
      `NameIDFormat ${NAMEID_FORMAT.transient}`,
      `SingleSignOnService Binding=${REDIRECT} Location=${input.ssoUrl}`,
      `SingleSignOnService Binding=${POST} Location=${input.ssoUrl}`,
    ]);
    const published = [...childElements(descriptor)]
      .filter((child) => child.localName === 'KeyDescriptor')
      .map((child) => child.getElementsByTagNameNS(DSIG, 'X509Certificate')[0]?.textContent);
    assert.deepEqual(published, [current.certificateBase64, next.certificateBase64]);
  });

  it('never produces SHA-1', function () {
    const xml = buildIdpMetadata(input, current);
    assert.doesNotMatch(xml, /sha1|sha-1/i);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha256"/);
  });

  it('escapes URLs and entity IDs, and still verifies', async function () {
    const odd: IdpMetadataInput = {
      ...input,
      entityId: 'https://idp.example.test/saml/metadata?tenant="a"&x=<b>',
      ssoUrl: 'https://idp.example.test/saml/sso?a=1&b=2',
    };
    const xml = buildIdpMetadata(odd, current);
    const root = parse(xml);
    assert.equal(root.getAttribute('entityID'), odd.entityId);
    const sso = root.getElementsByTagNameNS(NS.metadata, 'SingleSignOnService')[0];
    assert.equal(sso?.getAttribute('Location'), odd.ssoUrl);
    const verified = await xmlsec1Verify(xml, current.certificatePem);
    assert.ok(verified.ok, verified.output);
  });

  it('refuses to sign with a key whose certificate it does not publish', function () {
    assert.throws(
      () => buildIdpMetadata({ ...input, signingCertificates: [next.certificatePem] }, current),
      (error: unknown) => isTesseraError(error) && error.code === 'internal',
    );
  });
});
