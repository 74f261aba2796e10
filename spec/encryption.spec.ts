import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { isTesseraError } from '../lib/common/errors.js';
import { parseSpMetadata } from '../lib/saml/sp-metadata.js';
import { XMLENC } from '../lib/saml/assertion-encryption.js';
import { openTask, provisionAgent, startTestIdp, testKeyPair, type TestAgent, type TestIdp, type TestKeyPair } from './support/harness.js';
import { signatureOf, validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

/*
 * Assertion encryption end to end: an SP whose metadata carries an encryption key gets its
 * assertion as AES-256-GCM content with an RSA-OAEP-wrapped key, and two independent
 * implementations (xmlsec1 and node-saml) decrypt it with the SP's key and verify it.
 */

interface EncryptingSp {
  readonly entityId: string;
  readonly acsUrl: string;
  readonly saml: SAML;
  readonly encryption: TestKeyPair;
}

const CBC_OR_RSA15 = /aes(128|192|256)-cbc|tripledes-cbc|rsa-1_5/;

function run(command: string, args: readonly string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 15_000, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ ok: error === null, stdout, stderr });
    });
  });
}

/** xmlsec1 decrypts the EncryptedData in place with the SP's private key and prints the document. */
async function xmlsec1Decrypt(xml: string, privateKeyPem: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-decrypt-'));
  try {
    await writeFile(join(dir, 'response.xml'), xml, 'utf8');
    await writeFile(join(dir, 'key.pem'), privateKeyPem, 'utf8');
    const result = await run('xmlsec1', ['--decrypt', '--privkey-pem', join(dir, 'key.pem'), join(dir, 'response.xml')]);
    assert.ok(result.ok, `xmlsec1 could not decrypt: ${result.stderr}`);
    return result.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function registerEncryptingSp(idp: TestIdp, options: { signResponse?: boolean } = {}): Promise<EncryptingSp> {
  const name = randomUUID().slice(0, 8);
  const entityId = `https://enc-${name}.example.test/saml`;
  const acsUrl = `https://enc-${name}.example.test/saml/acs`;
  const encryption = await testKeyPair(`enc-${name}`);
  const saml = new SAML({
    entryPoint: `${idp.baseUrl}/saml/sso`,
    issuer: entityId,
    callbackUrl: acsUrl,
    idpCert: idp.signingCertificatePem,
    idpIssuer: `${idp.baseUrl}/saml/metadata`,
    audience: entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: options.signResponse ?? true,
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    disableRequestedAuthnContext: true,
    validateInResponseTo: ValidateInResponseTo.never,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    decryptionPvk: encryption.keyPem,
  });
  // node-saml writes the decryption certificate as a KeyDescriptor use="encryption".
  const metadataXml = saml.generateServiceProviderMetadata(encryption.certPem, null);
  assert.match(metadataXml, /KeyDescriptor use="encryption"/);
  const sp = parseSpMetadata(metadataXml, { signResponse: options.signResponse ?? true, now: new Date() });
  await idp.running.idp.store.serviceProviders.register(sp, false);
  return { entityId, acsUrl, saml, encryption };
}

describe('assertion encryption (AES-256-GCM, RSA-OAEP)', function () {
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: EncryptingSp;

  before(async function () {
    idp = await startTestIdp();
    agent = await provisionAgent(idp, { profile: { modelHash: 'sha256:feedface', scopes: ['invoices:read'] } });
    sp = await registerEncryptingSp(idp);
  });
  after(async () => idp.close());

  async function signOn(target: EncryptingSp): Promise<string> {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read'] });
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(target.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    return response.json<{ SAMLResponse: string }>().SAMLResponse;
  }

  it('sends only an EncryptedAssertion, with AES-256-GCM content and RSA-OAEP key transport, never CBC or RSA 1.5', async function () {
    const xml = Buffer.from(await signOn(sp), 'base64').toString('utf8');
    assert.doesNotMatch(xml, /<saml:Assertion[\s>]/, 'no plaintext assertion');
    assert.doesNotMatch(xml, new RegExp(agent.userName), 'the agent id travels only inside the ciphertext');
    assert.equal((xml.match(/<saml:EncryptedAssertion[\s>]/g) ?? []).length, 1);
    assert.match(xml, new RegExp(`<xenc:EncryptedData [^>]*Type="${XMLENC.elementType}"`));
    assert.match(xml, new RegExp(`<xenc:EncryptionMethod Algorithm="${XMLENC.aes256Gcm}"/>`));
    assert.match(xml, new RegExp(`<xenc:EncryptedKey Recipient="${sp.entityId}"><xenc:EncryptionMethod Algorithm="${XMLENC.rsaOaepMgf1p}"/>`));
    assert.doesNotMatch(xml, CBC_OR_RSA15);
    assert.doesNotMatch(xml, /sha1/i, 'no SHA-1 identifier anywhere (OAEP uses its default digest)');
    const schema = await validateAgainstSamlSchema(xml, 'protocol');
    assert.ok(schema.ok, schema.output);
  });

  it('xmlsec1 verifies the Response, decrypts the assertion with the SP key and verifies the assertion signature', async function () {
    const xml = Buffer.from(await signOn(sp), 'base64').toString('utf8');
    const responseSignature = await xmlsec1Verify(xml, idp.signingCertificatePem, { signatureXPath: signatureOf('Response') });
    assert.ok(responseSignature.ok, responseSignature.output);
    const decrypted = await xmlsec1Decrypt(xml, sp.encryption.keyPem);
    assert.match(decrypted, /<saml:EncryptedAssertion[^>]*><saml:Assertion /, 'the plaintext is the saml:Assertion element');
    assert.match(decrypted, new RegExp(`<saml:NameID [^>]*>${agent.userName}</saml:NameID>`));
    const assertionSignature = await xmlsec1Verify(decrypted, idp.signingCertificatePem, { signatureXPath: signatureOf('Assertion') });
    assert.ok(assertionSignature.ok, assertionSignature.output);
    const wrongKey = await testKeyPair('not-the-sp');
    await assert.rejects(() => xmlsec1Decrypt(xml, wrongKey.keyPem), /could not decrypt/);
  });

  it('node-saml, holding the SP decryption key, accepts the Response and reads the agent attributes', async function () {
    const { profile } = await sp.saml.validatePostResponseAsync({ SAMLResponse: await signOn(sp) });
    assert.ok(profile);
    assert.equal(profile.nameID, agent.userName);
    assert.equal((profile as Record<string, unknown>)['AI-Agent-ID'], agent.userName);
    assert.equal((profile as Record<string, unknown>)['Model-Hash'], 'sha256:feedface');
  });

  it('node-saml without the decryption key cannot read it', async function () {
    const blind = new SAML({
      callbackUrl: sp.acsUrl,
      issuer: sp.entityId,
      idpCert: idp.signingCertificatePem,
      audience: sp.entityId,
      wantAssertionsSigned: true,
      validateInResponseTo: ValidateInResponseTo.never,
    });
    await assert.rejects(async () => blind.validatePostResponseAsync({ SAMLResponse: await signOn(sp) }), /decrypt|key/i);
  });

  it('encrypts for an SP that opted out of Response signing too, leaving the assertion signed inside', async function () {
    const optedOut = await registerEncryptingSp(idp, { signResponse: false });
    const samlResponse = await signOn(optedOut);
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    assert.doesNotMatch(xml, /<ds:Signature[\s>]/, 'the Response itself is not signed');
    const decrypted = await xmlsec1Decrypt(xml, optedOut.encryption.keyPem);
    const assertionSignature = await xmlsec1Verify(decrypted, idp.signingCertificatePem, { signatureXPath: signatureOf('Assertion') });
    assert.ok(assertionSignature.ok, assertionSignature.output);
    const { profile } = await optedOut.saml.validatePostResponseAsync({ SAMLResponse: samlResponse });
    assert.equal(profile?.nameID, agent.userName);
  });

  it('uses a fresh content key and IV per assertion', async function () {
    const first = Buffer.from(await signOn(sp), 'base64').toString('utf8');
    const second = Buffer.from(await signOn(sp), 'base64').toString('utf8');
    const cipherValues = (xml: string) => [...xml.matchAll(/<xenc:CipherValue>([^<]+)<\/xenc:CipherValue>/g)].map((match) => match[1]);
    const [firstKey, firstData] = cipherValues(first);
    const [secondKey, secondData] = cipherValues(second);
    assert.ok(firstKey && firstData && secondKey && secondData);
    assert.notEqual(firstKey, secondKey);
    assert.notEqual(Buffer.from(firstData, 'base64').subarray(0, 12).toString('hex'), Buffer.from(secondData, 'base64').subarray(0, 12).toString('hex'));
  });
});

describe('SP encryption keys at registration', () => {
  async function ecCertificateBase64(): Promise<string> {
    const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '02',
      name: 'CN=ec-sp',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: algorithm,
      keys,
    });
    return Buffer.from(certificate.rawData).toString('base64');
  }

  function metadata(keyDescriptors: string): string {
    return (
      '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.test/saml">' +
      `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keyDescriptors}` +
      '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.test/acs" index="0"/>' +
      '</md:SPSSODescriptor></md:EntityDescriptor>'
    );
  }
  const keyDescriptor = (use: string | undefined, certificate: string) =>
    `<md:KeyDescriptor${use === undefined ? '' : ` use="${use}"`}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;

  it('refuses an encryption certificate that is not RSA: assertions are never sent in the clear to an SP asking for encryption', async () => {
    const ec = await ecCertificateBase64();
    assert.throws(
      () => parseSpMetadata(metadata(keyDescriptor('encryption', ec)), { signResponse: true, now: new Date() }),
      (error: unknown) => isTesseraError(error) && error.code === 'sp_metadata_invalid' && /encryption certificate is not RSA/.test(error.message),
    );
  });

  it('treats an EC key without use as a signing key only, since it cannot receive RSA-OAEP key transport', async () => {
    const ec = await ecCertificateBase64();
    const sp = parseSpMetadata(metadata(keyDescriptor(undefined, ec)), { signResponse: true, now: new Date() });
    assert.equal(sp.signingCertificates.length, 1);
    assert.deepEqual(sp.encryptionCertificates, []);
  });

  it('keeps an RSA key without use for both purposes', async () => {
    const rsa = await testKeyPair('rsa-sp');
    const sp = parseSpMetadata(metadata(keyDescriptor(undefined, rsa.certBase64)), { signResponse: true, now: new Date() });
    assert.equal(sp.signingCertificates.length, 1);
    assert.equal(sp.encryptionCertificates.length, 1);
  });
});
