import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAML } from '@node-saml/node-saml';
import { isTesseraError } from '../lib/common/errors.js';
import { generateSelfSigned } from '../lib/keys/certificates.js';
import { BINDINGS } from '../lib/saml/service-provider.js';
import type { ServiceProvider } from '../lib/saml/service-provider.js';
import { DEFAULT_MAX_METADATA_BYTES, isUsableAssertionConsumerService, parseSpMetadata } from '../lib/saml/sp-metadata.js';

const ROOT = process.cwd();
const FIXTURES = path.join(ROOT, 'spec', 'fixtures', 'sp-metadata');
const NOW = new Date('2026-06-01T12:00:00Z');
const OPTIONS = { signResponse: true, now: NOW };
const PAOS = 'urn:oasis:names:tc:SAML:2.0:bindings:PAOS';

function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

function refused(xml: string, pattern: RegExp, options: Parameters<typeof parseSpMetadata>[1] = OPTIONS): void {
  assert.throws(
    () => parseSpMetadata(xml, options),
    (error: unknown) => isTesseraError(error) && error.code === 'sp_metadata_invalid' && pattern.test(error.message),
  );
}

const EXAMPLE = readFileSync(path.join(ROOT, 'metadata', 'example-sp.xml'), 'utf8');
const EXAMPLE_CERT = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(EXAMPLE)?.[1]?.replace(/\s+/g, '') ?? '';

/** A minimal valid SP metadata document with one part replaced, for single-fault refusals. */
function minimal(parts: { entity?: string; descriptor?: string; keys?: string; body?: string } = {}): string {
  const keys =
    parts.keys ??
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${EXAMPLE_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const body =
    parts.body ??
    `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="https://sp.test/acs" index="0"/>`;
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ${parts.entity ?? 'entityID="https://sp.test/saml"'}>` +
    `<md:SPSSODescriptor ${parts.descriptor ?? 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"'}>${keys}${body}</md:SPSSODescriptor>` +
    '</md:EntityDescriptor>'
  );
}

describe('parseSpMetadata', () => {
  describe('metadata/example-sp.xml', () => {
    let sp: ServiceProvider;
    before(() => {
      sp = parseSpMetadata(EXAMPLE, OPTIONS);
    });

    it('reads entityID, the POST ACS, both SLO endpoints and NameIDFormat', () => {
      assert.equal(sp.entityId, 'https://sp.example.com/saml');
      assert.deepEqual(sp.assertionConsumerServices, [
        { binding: BINDINGS.post, location: 'https://sp.example.com/saml/acs', responseLocation: undefined, index: 0, isDefault: true },
      ]);
      assert.deepEqual(
        sp.singleLogoutServices.map((e) => [e.binding, e.location]),
        [
          [BINDINGS.soap, 'https://sp.example.com/saml/slo/soap'],
          [BINDINGS.redirect, 'https://sp.example.com/saml/slo/redirect'],
        ],
      );
      assert.deepEqual(sp.nameIdFormats, ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent']);
    });

    it('stores its real RSA-2048 signing certificate as PEM, and no encryption key', () => {
      assert.equal(sp.signingCertificates.length, 1);
      const certificate = new X509Certificate(sp.signingCertificates[0] ?? '');
      assert.match(sp.signingCertificates[0] ?? '', /^-----BEGIN CERTIFICATE-----\n/);
      assert.equal(certificate.subject, 'CN=sp.example.com');
      assert.equal(certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.deepEqual(sp.encryptionCertificates, []);
    });

    it('keeps flags, the original text, the registration time and the signResponse choice', () => {
      assert.equal(sp.authnRequestsSigned, false);
      assert.equal(sp.wantAssertionsSigned, true);
      assert.equal(sp.metadataXml, EXAMPLE);
      assert.equal(sp.registeredAt, NOW);
      assert.equal(sp.signResponse, true);
      assert.equal(parseSpMetadata(EXAMPLE, { ...OPTIONS, signResponse: false }).signResponse, false);
    });

    it('contains no private key', () => {
      assert.doesNotMatch(EXAMPLE, /PRIVATE KEY/);
    });
  });

  describe('real-world metadata', () => {
    it('Shibboleth SP: comments, Extensions, mdui, alg hints; every ACS binding is stored', () => {
      const sp = parseSpMetadata(fixture('shibboleth-sp.xml'), OPTIONS);
      assert.equal(sp.entityId, 'https://sp.shibboleth.example.org/shibboleth');
      assert.deepEqual(
        sp.assertionConsumerServices.map((e) => [e.index, e.binding]),
        [
          [1, BINDINGS.post],
          [2, 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign'],
          [3, BINDINGS.artifact],
          [4, PAOS],
          [5, 'urn:oasis:names:tc:SAML:1.0:profiles:browser-post'],
          [6, 'urn:oasis:names:tc:SAML:1.0:profiles:artifact-01'],
        ],
      );
      assert.deepEqual(
        sp.assertionConsumerServices.filter(isUsableAssertionConsumerService).map((e) => e.location),
        ['https://sp.shibboleth.example.org/Shibboleth.sso/SAML2/POST'],
      );
      assert.equal(sp.singleLogoutServices.length, 4);
      assert.ok(sp.singleLogoutServices.every((e) => e.index === undefined && !e.isDefault));
    });

    it('Shibboleth SP: use="signing" and use="encryption" keys go to their own lists', () => {
      const sp = parseSpMetadata(fixture('shibboleth-sp.xml'), OPTIONS);
      assert.equal(sp.signingCertificates.length, 1);
      assert.equal(sp.encryptionCertificates.length, 1);
      assert.equal(new X509Certificate(sp.signingCertificates[0] ?? '').subject, 'CN=sp.shibboleth.example.org');
      assert.equal(new X509Certificate(sp.encryptionCertificates[0] ?? '').subject, 'CN=shib-enc.example');
      assert.equal(sp.authnRequestsSigned, false);
      assert.equal(sp.wantAssertionsSigned, false);
    });

    it('pysaml2 SP: a KeyDescriptor without use serves both; "1" is true; ResponseLocation is kept', () => {
      const sp = parseSpMetadata(fixture('pysaml2-sp.xml'), OPTIONS);
      assert.equal(sp.entityId, 'https://pysaml2.example.net/sp.xml');
      assert.deepEqual(sp.signingCertificates, sp.encryptionCertificates);
      assert.equal(sp.signingCertificates.length, 1);
      assert.equal(sp.authnRequestsSigned, true);
      assert.equal(sp.wantAssertionsSigned, true);
      assert.deepEqual(sp.nameIdFormats, [
        'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
        'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      ]);
      assert.deepEqual(
        sp.assertionConsumerServices.map((e) => [e.index, e.binding, e.isDefault]),
        [
          [1, BINDINGS.redirect, false],
          [2, BINDINGS.post, false],
        ],
      );
      assert.equal(sp.singleLogoutServices[1]?.responseLocation, 'https://pysaml2.example.net/slo/redirect/response');
    });

    it('metadata generated by node-saml, an independent implementation', async () => {
      const keys = await generateSelfSigned({ commonName: 'node-saml-sp', validDays: 30, now: new Date() });
      const saml = new SAML({
        issuer: 'https://node-saml.example.test/saml',
        callbackUrl: 'https://node-saml.example.test/saml/acs',
        idpCert: keys.certificatePem,
        logoutCallbackUrl: 'https://node-saml.example.test/saml/slo',
        // node-saml publishes a key only for what it can do: sign requests, decrypt assertions.
        privateKey: keys.privateKeyPem,
        decryptionPvk: keys.privateKeyPem,
      });
      const sp = parseSpMetadata(saml.generateServiceProviderMetadata(keys.certificatePem, keys.certificatePem), OPTIONS);
      assert.equal(sp.entityId, 'https://node-saml.example.test/saml');
      assert.equal(sp.assertionConsumerServices[0]?.location, 'https://node-saml.example.test/saml/acs');
      assert.equal(sp.signingCertificates.length, 1);
      assert.equal(sp.encryptionCertificates.length, 1);
    });

    it('the good fixtures are valid against the OASIS SAML 2.0 metadata schema (xmllint)', function () {
      if (spawnSync('xmllint', ['--version']).status !== 0) this.skip();
      const directory = mkdtempSync(path.join(os.tmpdir(), 'tessera-xsd-'));
      try {
        const catalog = path.join(directory, 'catalog.xml');
        const schema = path.join(directory, 'wrapper.xsd');
        writeFileSync(catalog, SCHEMA_CATALOG);
        writeFileSync(schema, WRAPPER_SCHEMA);
        const files = [path.join(ROOT, 'metadata', 'example-sp.xml'), path.join(FIXTURES, 'shibboleth-sp.xml'), path.join(FIXTURES, 'pysaml2-sp.xml')];
        const output = execFileSync('xmllint', ['--nonet', '--noout', '--schema', schema, ...files], {
          env: { ...process.env, XML_CATALOG_FILES: catalog },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        assert.equal(output, '');
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    });
  });

  describe('refuses unsafe or unusable metadata, saying why', () => {
    it('a DOCTYPE with an external entity (XXE)', () => {
      refused(fixture('bad-doctype-xxe.xml'), /^metadata contains a DOCTYPE/);
    });

    it('billion laughs', () => {
      refused(fixture('bad-billion-laughs.xml'), /^metadata contains a DOCTYPE/);
    });

    it('an EntitiesDescriptor aggregate', () => {
      refused(fixture('bad-entities-descriptor.xml'), /EntitiesDescriptor/);
    });

    it('an entity without an SPSSODescriptor (an IdP)', () => {
      refused(fixture('bad-no-spssodescriptor.xml'), /no SPSSODescriptor/);
    });

    it('only an http POST ACS (an https Artifact ACS does not count)', () => {
      refused(fixture('bad-http-only-acs.xml'), /no HTTP-POST AssertionConsumerService with an https Location/);
    });

    it('a certificate that does not parse as X.509', () => {
      refused(fixture('bad-broken-certificate.xml'), /certificate #1 is not a valid X\.509 certificate/);
    });

    it('a document over the size cap (512 KiB by default, or maxBytes)', () => {
      const padded = EXAMPLE.replace('<md:EntityDescriptor', `<!-- ${'x'.repeat(DEFAULT_MAX_METADATA_BYTES)} -->\n<md:EntityDescriptor`);
      refused(padded, /^metadata is \d+ bytes, over the limit of 524288/);
      refused(EXAMPLE, /over the limit of 1024/, { ...OPTIONS, maxBytes: 1024 });
    });

    it('a root that is not md:EntityDescriptor', () => {
      refused(minimal().replace(/md:EntityDescriptor/g, 'md:Other'), /not md:EntityDescriptor/);
      refused('<EntityDescriptor entityID="x"/>', /not md:EntityDescriptor/);
    });

    it('an empty or padded entityID', () => {
      refused(minimal({ entity: '' }), /no entityID/);
      refused(minimal({ entity: 'entityID="  "' }), /no entityID/);
      refused(minimal({ entity: 'entityID=" https://sp.test/saml"' }), /whitespace/);
    });

    it('an SPSSODescriptor that does not support SAML 2.0, or two that do', () => {
      refused(minimal({ descriptor: 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"' }), /no SPSSODescriptor supports/);
      const twice = minimal().replace('</md:EntityDescriptor>', /<md:SPSSODescriptor[\s\S]*<\/md:SPSSODescriptor>/.exec(minimal())?.[0] + '</md:EntityDescriptor>');
      refused(twice, /more than one SPSSODescriptor/);
    });

    it('ACS endpoints without a valid index, with a repeated index, or two defaults', () => {
      refused(minimal({ body: `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="https://sp.test/acs"/>` }), /no valid index/);
      refused(minimal({ body: `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="https://sp.test/acs" index="-1"/>` }), /no valid index/);
      const acs = (index: number, extra = '') => `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="https://sp.test/acs${index}" index="${index}" ${extra}/>`;
      refused(minimal({ body: acs(1) + acs(1) }), /index 1 is used twice/);
      refused(minimal({ body: acs(1, 'isDefault="true"') + acs(2, 'isDefault="1"') }), /more than one .* isDefault/);
      refused(minimal({ body: acs(1, 'isDefault="yes"') }), /isDefault is not a boolean/);
    });

    it('endpoints without a Binding or an absolute Location', () => {
      refused(minimal({ body: '<md:AssertionConsumerService Location="https://sp.test/acs" index="0"/>' }), /has no Binding/);
      refused(minimal({ body: `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="/acs" index="0"/>` }), /absolute Location/);
    });

    it('AuthnRequestsSigned / WantAssertionsSigned that are not booleans', () => {
      refused(minimal({ descriptor: 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="yes"' }), /AuthnRequestsSigned="yes" is not a boolean/);
      refused(minimal({ descriptor: 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="TRUE"' }), /WantAssertionsSigned/);
    });

    it('AuthnRequestsSigned="true" with no signing certificate to verify requests with', () => {
      const encryptionOnly = `<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${EXAMPLE_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
      refused(
        minimal({ descriptor: 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true"', keys: encryptionOnly }),
        /AuthnRequestsSigned is true but .* no signing certificate/,
      );
    });

    it('a KeyDescriptor use other than signing or encryption', () => {
      refused(minimal({ keys: '<md:KeyDescriptor use="both"/>' }), /use="both"/);
    });

    it('metadata past its validUntil', () => {
      refused(minimal({ entity: 'entityID="https://sp.test/saml" validUntil="2026-05-31T00:00:00Z"' }), /expired at 2026-05-31/);
      refused(minimal({ descriptor: 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" validUntil="not a date"' }), /validUntil is not a date/);
      assert.ok(parseSpMetadata(minimal({ entity: 'entityID="https://sp.test/saml" validUntil="2026-07-01T00:00:00Z"' }), OPTIONS));
    });
  });

  describe('accepts', () => {
    it('boolean attributes as "true", "1", "false" and "0", defaulting to false', () => {
      const flags = (value: string) =>
        parseSpMetadata(minimal({ descriptor: `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="${value}" WantAssertionsSigned="${value}"` }), OPTIONS);
      assert.equal(flags('true').authnRequestsSigned, true);
      assert.equal(flags('1').wantAssertionsSigned, true);
      assert.equal(flags('false').authnRequestsSigned, false);
      assert.equal(flags('0').wantAssertionsSigned, false);
      assert.equal(parseSpMetadata(minimal(), OPTIONS).authnRequestsSigned, false);
    });

    it('http and other-binding ACS endpoints beside an https POST one, stored but not usable', () => {
      const sp = parseSpMetadata(
        minimal({
          body:
            `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="http://sp.test/acs" index="0"/>` +
            `<md:AssertionConsumerService Binding="${PAOS}" Location="https://sp.test/ecp" index="1"/>` +
            `<md:AssertionConsumerService Binding="${BINDINGS.post}" Location="https://sp.test/acs" index="2"/>`,
        }),
        OPTIONS,
      );
      assert.deepEqual(sp.assertionConsumerServices.map(isUsableAssertionConsumerService), [false, false, true]);
    });

    it('a KeyDescriptor without certificates (KeyName only), and duplicates only once', () => {
      const keyName = '<md:KeyDescriptor><ds:KeyInfo><ds:KeyName>sp</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>';
      const signing = `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${EXAMPLE_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
      const sp = parseSpMetadata(minimal({ keys: keyName + signing + signing }), OPTIONS);
      assert.equal(sp.signingCertificates.length, 1);
      assert.equal(sp.encryptionCertificates.length, 0);
    });

    it('a signed metadata document whose root carries a ds:Signature (not verified: the admin vouches for the file)', () => {
      const signature =
        '<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>' +
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="">' +
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference>' +
        '</ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>';
      const xml = minimal().replace('<md:SPSSODescriptor', `${signature}<md:SPSSODescriptor`);
      assert.equal(parseSpMetadata(xml, OPTIONS).entityId, 'https://sp.test/saml');
    });
  });
});

const SCHEMAS = '/usr/share/xml/opensaml';
const TOOLING = '/usr/share/xml/xmltooling';
/** Maps the schemas' remote schemaLocations to the installed copies, so xmllint never reaches the network. */
const SCHEMA_CATALOG = `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <system systemId="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file://${TOOLING}/xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file://${TOOLING}/xenc-schema.xsd"/>
  <system systemId="http://www.w3.org/2001/xml.xsd" uri="file://${TOOLING}/xml.xsd"/>
  <nextCatalog catalog="file://${TOOLING}/catalog.xml"/>
</catalog>`;
const WRAPPER_SCHEMA = `<?xml version="1.0"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:tessera:test:wrapper">
  <import namespace="urn:oasis:names:tc:SAML:2.0:metadata" schemaLocation="file://${SCHEMAS}/saml-schema-metadata-2.0.xsd"/>
  <import namespace="urn:oasis:names:tc:SAML:metadata:ui" schemaLocation="file://${SCHEMAS}/sstc-saml-metadata-ui-v1.0.xsd"/>
  <import namespace="urn:oasis:names:tc:SAML:metadata:algsupport" schemaLocation="file://${SCHEMAS}/sstc-saml-metadata-algsupport-v1.0.xsd"/>
  <import namespace="urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol" schemaLocation="file://${SCHEMAS}/sstc-saml-idp-discovery.xsd"/>
  <import namespace="urn:oasis:names:tc:SAML:profiles:SSO:request-init" schemaLocation="file://${SCHEMAS}/sstc-request-initiation.xsd"/>
</schema>`;
