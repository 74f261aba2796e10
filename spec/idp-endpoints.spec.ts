import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { openTask, provisionAgent, startTestIdp, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp } from './support/node-saml-sp.js';
import { signatureOf, validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** The signing certificate as a relying party would take it: from the published metadata. */
function certificateFromMetadata(xml: string): string {
  const document = new DOMParser().parseFromString(xml, 'text/xml');
  const descriptor = document.getElementsByTagNameNS(MD, 'KeyDescriptor')[0];
  assert.ok(descriptor, 'metadata has a KeyDescriptor');
  assert.equal(descriptor.getAttribute('use'), 'signing');
  const body = descriptor.getElementsByTagNameNS(DS, 'X509Certificate')[0]?.textContent?.replace(/\s+/g, '');
  assert.ok(body);
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

describe('IdP endpoints over HTTPS', function () {
  let idp: TestIdp;
  let metadataXml: string;

  before(async function () {
    idp = await startTestIdp();
    const response = await idp.request({ path: '/saml/metadata' });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /application\/samlmetadata\+xml/);
    metadataXml = response.body;
  });
  after(async () => idp.close());

  it('publishes metadata that is valid against the OASIS metadata schema (xmllint)', async function () {
    const result = await validateAgainstSamlSchema(metadataXml, 'metadata');
    assert.ok(result.ok, result.output);
  });

  it('publishes metadata signed by the key it names, verified by xmlsec1', async function () {
    const certificate = certificateFromMetadata(metadataXml);
    const result = await xmlsec1Verify(metadataXml, certificate);
    assert.ok(result.ok, result.output);
  });

  it('names its entityID, endpoints and NameID formats in the metadata', function () {
    const document = new DOMParser().parseFromString(metadataXml, 'text/xml');
    const entity = document.documentElement!;
    assert.equal(entity.getAttribute('entityID'), `${idp.baseUrl}/saml/metadata`);
    const endpoints = (name: string) =>
      Array.from(document.getElementsByTagNameNS(MD, name)).map((e) => `${e.getAttribute('Binding')} ${e.getAttribute('Location')}`);
    assert.deepEqual(endpoints('SingleSignOnService'), [
      `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect ${idp.baseUrl}/saml/sso`,
      `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST ${idp.baseUrl}/saml/sso`,
    ]);
    assert.equal(endpoints('SingleLogoutService').length, 2);
    const formats = Array.from(document.getElementsByTagNameNS(MD, 'NameIDFormat')).map((e) => e.textContent);
    assert.deepEqual(formats, ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient']);
  });

  it('issues Responses whose Response and Assertion signatures xmlsec1 verifies with the metadata certificate', async function () {
    const agent = await provisionAgent(idp);
    const sp = await registerNodeSamlSp(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    const certificate = certificateFromMetadata(metadataXml);
    const responseSignature = await xmlsec1Verify(xml, certificate);
    assert.ok(responseSignature.ok, responseSignature.output);
    const assertionSignature = await xmlsec1Verify(xml, certificate, { signatureXPath: signatureOf('Assertion') });
    assert.ok(assertionSignature.ok, assertionSignature.output);
    const schema = await validateAgainstSamlSchema(xml, 'protocol');
    assert.ok(schema.ok, schema.output);
  });

  it('exposes Prometheus metrics: requests by route and audited decisions by reason', async function () {
    const refused = await idp.request({ path: '/saml/sso/initiate?sp=https%3A%2F%2Fnowhere.example', headers: { accept: 'application/json' } });
    assert.equal(refused.status, 400);
    const response = await idp.request({ path: '/metrics' });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(response.body, /^tessera_decisions_total\{event="signon\.issued",reason=""\} 1$/m);
    assert.match(response.body, /^tessera_decisions_total\{event="signon\.denied",reason="saml_unknown_sp"\} 1$/m);
    assert.match(response.body, /^tessera_http_requests_total\{method="GET",route="\/saml\/sso\/initiate",status="400"\} 1$/m);
    assert.match(response.body, /^tessera_http_request_duration_seconds_bucket\{le="0\.25",route="\/saml\/metadata"\} \d+$/m);
    assert.doesNotMatch(response.body, /nowhere\.example/, 'client-chosen values never become labels');
  });

  it('answers /healthz', async function () {
    const response = await idp.request({ path: '/healthz' });
    assert.equal(response.status, 200);
    assert.equal(response.json().status, 'ok');
  });

  it('keeps no private key in clear anywhere in the data directory', function () {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else files.push(file);
      }
    };
    walk(idp.dataDir);
    assert.ok(files.some((f) => f.endsWith('tessera.db')), 'the database is in the data directory');
    const signingKeyDer = idp.running.idp.keys.signing.privateKey.export({ format: 'der', type: 'pkcs8' });
    const tlsKeyBody = idp.running.idp.keys.tls.keyPem.split('\n')[1]!;
    for (const file of files) {
      const bytes = readFileSync(file);
      const text = bytes.toString('latin1');
      assert.doesNotMatch(text, /PRIVATE KEY/, `${file} holds a PEM private key`);
      // The tail of PKCS#8 holds the private primes and coefficient: never public, unlike the modulus.
      assert.equal(bytes.indexOf(signingKeyDer.subarray(signingKeyDer.length - 128)), -1, `${file} holds the DER signing key`);
      assert.equal(text.indexOf(tlsKeyBody), -1, `${file} holds the TLS key`);
    }
    const kek = files.find((f) => f.endsWith('master.key'));
    assert.ok(kek, 'without TESSERA_MASTER_KEY a key-encryption key file is generated');
    assert.equal(statSync(kek).mode & 0o777, 0o600);
  });
});
