import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, sign as cryptoSign, webcrypto } from 'node:crypto';
import type { KeyLike } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import * as x509 from '@peculiar/x509';
import { SAML } from '@node-saml/node-saml';
import { SignedXml } from 'xml-crypto';
import type { SignatureAlgorithm } from 'xml-crypto';
import { isTesseraError } from '../lib/common/errors.js';
import type { ErrorCode } from '../lib/common/errors.js';
import type { ReplayCache } from '../lib/common/replay-cache.js';
import { generateSelfSigned, toPem } from '../lib/keys/certificates.js';
import { BINDINGS } from '../lib/saml/service-provider.js';
import type { ServiceProvider, SpEndpoint } from '../lib/saml/service-provider.js';
import {
  checkAuthnRequest,
  decodeAuthnRequest,
  selectAssertionConsumerService,
  verifyAuthnRequest,
} from '../lib/saml/authn-request.js';
import type { AuthnRequest, InboundAuthnRequest } from '../lib/saml/authn-request.js';
import { verifyEnvelopedSignature } from '../lib/saml/signature-verification.js';
import { parseSafeXml } from '../lib/saml/xml.js';

const SSO_URL = 'https://idp.example.org/saml/sso';
const SP_ID = 'https://sp.example.test/saml';
const ACS_URL = 'https://sp.example.test/saml/acs';
const LIMITS = { maxMessageBytes: 64 * 1024 };
const NS_SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const ALG = {
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  hmacSha1: 'http://www.w3.org/2000/09/xmldsig#hmac-sha1',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  excC14nWithComments: 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  c14n: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
} as const;

interface TestKeys {
  readonly keyPem: string;
  readonly certPem: string;
}

let spKeys: TestKeys;
let rolloverKeys: TestKeys;
let attackerKeys: TestKeys;
let ecKeys: TestKeys;

async function rsaKeys(commonName: string): Promise<TestKeys> {
  const generated = await generateSelfSigned({ commonName, validDays: 30, now: new Date() });
  return { keyPem: generated.privateKeyPem, certPem: generated.certificatePem };
}

async function ecdsaKeys(): Promise<TestKeys> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=ecdsa-sp',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: algorithm,
    keys,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { keyPem: toPem('PRIVATE KEY', pkcs8), certPem: certificate.toString('pem') };
}

function endpoint(binding: string, location: string, index: number, isDefault = false): SpEndpoint {
  return { binding, location, responseLocation: undefined, index, isDefault };
}

function serviceProvider(overrides: Partial<ServiceProvider> = {}): ServiceProvider {
  return {
    entityId: SP_ID,
    assertionConsumerServices: [endpoint(BINDINGS.post, ACS_URL, 0, true)],
    singleLogoutServices: [],
    signingCertificates: [spKeys.certPem],
    encryptionCertificates: [],
    nameIdFormats: [PERSISTENT],
    authnRequestsSigned: true,
    wantAssertionsSigned: true,
    signResponse: true,
    metadataXml: '',
    registeredAt: new Date(),
    ...overrides,
  };
}

/** node-saml as the SP: an independent implementation producing genuinely signed requests. */
function nodeSaml(options: {
  binding?: 'HTTP-Redirect' | 'HTTP-POST';
  keys?: TestKeys | null;
  signatureAlgorithm?: 'sha1' | 'sha256' | 'sha512';
  /** node-saml takes a short name here and falls back to SHA-1 for anything else, URIs included. */
  digestAlgorithm?: 'sha1' | 'sha256' | 'sha512';
  issuer?: string;
  publicCert?: string;
} = {}): SAML {
  const keys = options.keys === undefined ? spKeys : options.keys;
  const post = options.binding === 'HTTP-POST';
  return new SAML({
    entryPoint: SSO_URL,
    issuer: options.issuer ?? SP_ID,
    callbackUrl: ACS_URL,
    idpCert: spKeys.certPem,
    identifierFormat: PERSISTENT,
    disableRequestedAuthnContext: true,
    authnRequestBinding: options.binding ?? 'HTTP-Redirect',
    // node-saml deflates HTTP-POST requests unless told not to; SAML bindings §3.5.4 says not to.
    skipRequestCompression: post,
    signatureAlgorithm: options.signatureAlgorithm ?? 'sha256',
    digestAlgorithm: options.digestAlgorithm ?? 'sha256',
    ...(keys ? { privateKey: keys.keyPem } : {}),
    ...(options.publicCert ? { publicCert: options.publicCert } : {}),
  });
}

async function redirectQuery(saml: SAML, relayState = ''): Promise<string> {
  const url = await saml.getAuthorizeUrlAsync(relayState, undefined, {});
  return url.slice(url.indexOf('?') + 1);
}

async function postForm(saml: SAML, relayState = ''): Promise<{ samlRequest: string; relayState: string | undefined }> {
  const form = await saml.getAuthorizeFormAsync(relayState);
  const field = (name: string) => {
    const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(form)?.[1];
    return value?.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  };
  const samlRequest = field('SAMLRequest');
  assert.ok(samlRequest, 'node-saml produced no SAMLRequest');
  return { samlRequest, relayState: field('RelayState') };
}

function redirect(rawQueryString: string): InboundAuthnRequest {
  return { binding: 'redirect', rawQueryString };
}

function post(xml: string, relayState?: string): InboundAuthnRequest {
  return { binding: 'post', samlRequest: Buffer.from(xml, 'utf8').toString('base64'), relayState };
}

function postXml(samlRequest: string): string {
  return Buffer.from(samlRequest, 'base64').toString('utf8');
}

function verify(inbound: InboundAuthnRequest, sp: ServiceProvider = serviceProvider()): AuthnRequest {
  return verifyAuthnRequest(decodeAuthnRequest(inbound, LIMITS), sp);
}

/**
 * The signature check alone, without the schema validation that runs before it in the intake:
 * for wrapping shapes the schema already refuses, so the verifier's own defence stays tested.
 */
function verifySignatureOnly(xml: string, certificates: readonly string[] = [spKeys.certPem]): string {
  return verifyEnvelopedSignature(xml, parseSafeXml(xml, { maxBytes: LIMITS.maxMessageBytes }, 'saml_malformed_request'), certificates);
}

function fails(action: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isTesseraError(error), `expected a TesseraError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

async function failsAsync(action: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(action, (error: unknown) => isTesseraError(error) && error.code === code);
}

function isoNow(offsetSeconds = 0): string {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString();
}

/** An AuthnRequest written by hand, for the shapes node-saml will not produce. */
function requestXml(options: {
  id?: string;
  issuer?: string;
  attributes?: Record<string, string>;
  inner?: string;
} = {}): string {
  const attributes: Record<string, string> = {
    ID: options.id ?? `_${randomBytes(8).toString('hex')}`,
    Version: '2.0',
    IssueInstant: isoNow(),
    Destination: SSO_URL,
    AssertionConsumerServiceURL: ACS_URL,
    ProtocolBinding: BINDINGS.post,
    ...options.attributes,
  };
  const rendered = Object.entries(attributes)
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS_SAMLP}" xmlns:saml="${NS_SAML}"${rendered}>` +
    `<saml:Issuer>${options.issuer ?? SP_ID}</saml:Issuer>` +
    (options.inner ?? `<samlp:NameIDPolicy Format="${PERSISTENT}" AllowCreate="true"/>`) +
    '</samlp:AuthnRequest>'
  );
}

/** ECDSA for xml-crypto's signer: XML Signature wants r||s, not DER. */
class EcdsaSha256Signer implements SignatureAlgorithm {
  getSignature(signedInfo: string | Buffer, privateKey: KeyLike): string {
    return cryptoSign('sha256', Buffer.from(signedInfo), { key: createPrivateKey(privateKey as string), dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  verifySignature(): boolean {
    throw new Error('not used');
  }
  getAlgorithmName(): string {
    return ALG.ecdsaSha256;
  }
}

/** Signs an XML string with xml-crypto, signature placed after the root's Issuer (as SAML requires). */
function signXml(
  xml: string,
  keys: TestKeys,
  options: {
    signatureAlgorithm?: string;
    digestAlgorithm?: string;
    canonicalization?: string;
    transforms?: string[];
    referenceXpath?: string;
    publicCert?: string;
  } = {},
): string {
  const signer = new SignedXml({
    privateKey: keys.keyPem,
    signatureAlgorithm: options.signatureAlgorithm ?? ALG.rsaSha256,
    canonicalizationAlgorithm: options.canonicalization ?? ALG.excC14n,
    ...(options.publicCert ? { publicCert: options.publicCert } : {}),
  });
  signer.SignatureAlgorithms[ALG.ecdsaSha256] = EcdsaSha256Signer;
  signer.addReference({
    xpath: options.referenceXpath ?? "/*[local-name(.)='AuthnRequest']",
    transforms: options.transforms ?? [ALG.enveloped, ALG.excC14n],
    digestAlgorithm: options.digestAlgorithm ?? ALG.sha256,
  });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: "/*/*[local-name(.)='Issuer']", action: 'after' },
  });
  return signer.getSignedXml();
}

/** Signs an HTTP-Redirect query by hand, as SAML bindings §3.4.4.1 describes. */
function signedQuery(xml: string, keys: TestKeys, options: { sigAlg?: string; relayState?: string; hash?: string; dsaEncoding?: 'der' | 'ieee-p1363' } = {}): string {
  const sigAlg = options.sigAlg ?? ALG.rsaSha256;
  const samlRequest = encodeURIComponent(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'));
  const relayState = options.relayState === undefined ? '' : `&RelayState=${encodeURIComponent(options.relayState)}`;
  const octets = `SAMLRequest=${samlRequest}${relayState}&SigAlg=${encodeURIComponent(sigAlg)}`;
  const key = createPrivateKey(keys.keyPem);
  const signature = cryptoSign(options.hash ?? 'sha256', Buffer.from(octets), key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: options.dsaEncoding ?? 'ieee-p1363' } : key);
  return `${octets}&Signature=${encodeURIComponent(signature.toString('base64'))}`;
}

function unsignedQuery(xml: string, relayState?: string): string {
  const samlRequest = encodeURIComponent(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'));
  return `SAMLRequest=${samlRequest}${relayState === undefined ? '' : `&RelayState=${encodeURIComponent(relayState)}`}`;
}

function queryParameter(query: string, name: string): string {
  const pair = query.split('&').find((part) => part.startsWith(`${name}=`));
  assert.ok(pair, `no ${name} in ${query}`);
  return pair.slice(name.length + 1);
}

function replaceParameter(query: string, name: string, value: string): string {
  return query
    .split('&')
    .map((part) => (part.startsWith(`${name}=`) ? `${name}=${value}` : part))
    .join('&');
}

class MemoryReplayCache implements ReplayCache {
  readonly calls: Array<{ namespace: string; id: string; expiresAt: Date; now: Date }> = [];
  private readonly seen = new Set<string>();

  async checkAndStore(namespace: string, id: string, expiresAt: Date, now: Date): Promise<boolean> {
    this.calls.push({ namespace, id, expiresAt, now });
    const key = `${namespace}\u0000${id}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  async purgeExpired(): Promise<number> {
    return 0;
  }
}

before(async function () {
  this.timeout(30_000);
  [spKeys, rolloverKeys, attackerKeys, ecKeys] = await Promise.all([rsaKeys('sp'), rsaKeys('sp-next'), rsaKeys('attacker'), ecdsaKeys()]);
});

describe('decodeAuthnRequest', () => {
  it('HTTP-Redirect: inflates the request, decodes RelayState and keeps the signed octets raw', async () => {
    const query = await redirectQuery(nodeSaml(), 'state-123');
    const decoded = decodeAuthnRequest(redirect(query), LIMITS);
    assert.equal(decoded.binding, 'redirect');
    assert.equal(decoded.unverifiedIssuer, SP_ID);
    assert.equal(decoded.relayState, 'state-123');
    assert.match(decoded.xml, /^(<\?xml[^>]*>)?<samlp:AuthnRequest /);
    assert.equal(decoded.querySignature?.sigAlg, ALG.rsaSha256);
    assert.equal(
      decoded.querySignature?.signedOctets,
      `SAMLRequest=${queryParameter(query, 'SAMLRequest')}&RelayState=state-123&SigAlg=${queryParameter(query, 'SigAlg')}`,
    );
  });

  it('HTTP-POST: base64 without DEFLATE, line-wrapped base64 included', async () => {
    const form = await postForm(nodeSaml({ binding: 'HTTP-POST' }), 'rs');
    const decoded = decodeAuthnRequest({ binding: 'post', samlRequest: form.samlRequest, relayState: form.relayState }, LIMITS);
    assert.equal(decoded.unverifiedIssuer, SP_ID);
    assert.equal(decoded.relayState, 'rs');
    assert.equal(decoded.querySignature, undefined);
    const wrapped = form.samlRequest.replace(/(.{76})/g, '$1\r\n');
    assert.equal(decodeAuthnRequest({ binding: 'post', samlRequest: wrapped, relayState: undefined }, LIMITS).xml, decoded.xml);
  });

  it('refuses a missing SAMLRequest', () => {
    fails(() => decodeAuthnRequest(redirect('RelayState=x'), LIMITS), 'saml_malformed_request', /no SAMLRequest/);
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: '', relayState: undefined }, LIMITS), 'saml_malformed_request', /empty/);
  });

  it('refuses base64 with non-base64 characters (which Buffer.from would skip)', () => {
    const valid = Buffer.from(requestXml()).toString('base64');
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: `${valid.slice(0, 8)}*${valid.slice(8)}`, relayState: undefined }, LIMITS), 'saml_malformed_request', /base64/);
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: valid.slice(0, -1), relayState: undefined }, LIMITS), 'saml_malformed_request', /base64/);
    fails(() => decodeAuthnRequest(redirect('SAMLRequest=%%%'), LIMITS), 'saml_malformed_request', /percent-encoding/);
    fails(() => decodeAuthnRequest(redirect('SAMLRequest=ab-_'), LIMITS), 'saml_malformed_request', /base64/);
  });

  it('refuses an HTTP-Redirect request that is not raw DEFLATE, or a POST one that is', () => {
    const plain = encodeURIComponent(Buffer.from(requestXml()).toString('base64'));
    fails(() => decodeAuthnRequest(redirect(`SAMLRequest=${plain}`), LIMITS), 'saml_malformed_request', /DEFLATE/);
    const deflated = deflateRawSync(Buffer.from(requestXml())).toString('base64');
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: deflated, relayState: undefined }, LIMITS), 'saml_malformed_request');
  });

  it('stops inflating a DEFLATE bomb at the cap', () => {
    const bomb = `${requestXml().replace('</samlp:AuthnRequest>', '')}<!--${' '.repeat(20 * 1024 * 1024)}--></samlp:AuthnRequest>`;
    const compressed = deflateRawSync(Buffer.from(bomb));
    assert.ok(compressed.length < 64 * 1024);
    const started = process.hrtime.bigint();
    fails(() => decodeAuthnRequest(redirect(`SAMLRequest=${encodeURIComponent(compressed.toString('base64'))}`), LIMITS), 'saml_malformed_request', /exceeds 65536 bytes/);
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 200, 'inflation was not stopped early');
  });

  it('refuses a POST message over the cap without decoding it', () => {
    const big = Buffer.alloc(LIMITS.maxMessageBytes + 10, 0x20).toString('base64');
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: big, relayState: undefined }, LIMITS), 'saml_malformed_request', /exceeds/);
  });

  it('refuses invalid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from(requestXml().slice(0, 40)), Buffer.from([0xc3, 0x28]), Buffer.from(requestXml().slice(40))]);
    fails(() => decodeAuthnRequest({ binding: 'post', samlRequest: bytes.toString('base64'), relayState: undefined }, LIMITS), 'saml_malformed_request', /UTF-8/);
  });

  it('refuses a RelayState over 80 bytes (counted in UTF-8), on both bindings', () => {
    assert.equal(decodeAuthnRequest(post(requestXml(), 'x'.repeat(80)), LIMITS).relayState, 'x'.repeat(80));
    fails(() => decodeAuthnRequest(post(requestXml(), 'x'.repeat(81)), LIMITS), 'saml_malformed_request', /RelayState/);
    fails(() => decodeAuthnRequest(post(requestXml(), 'é'.repeat(41)), LIMITS), 'saml_malformed_request', /RelayState/);
    fails(() => decodeAuthnRequest(redirect(unsignedQuery(requestXml(), 'y'.repeat(81))), LIMITS), 'saml_malformed_request', /RelayState/);
  });

  it('refuses a root other than samlp:AuthnRequest', () => {
    const logout = `<samlp:LogoutRequest xmlns:samlp="${NS_SAMLP}" xmlns:saml="${NS_SAML}" ID="_1" Version="2.0" IssueInstant="${isoNow()}"><saml:Issuer>${SP_ID}</saml:Issuer></samlp:LogoutRequest>`;
    fails(() => decodeAuthnRequest(post(logout), LIMITS), 'saml_malformed_request', /not a samlp:AuthnRequest/);
    const wrongNamespace = requestXml().replace(`xmlns:samlp="${NS_SAMLP}"`, 'xmlns:samlp="urn:evil"');
    fails(() => decodeAuthnRequest(post(wrongNamespace), LIMITS), 'saml_malformed_request', /not a samlp:AuthnRequest/);
  });

  it('refuses unsafe XML (DOCTYPE) as a malformed request', () => {
    fails(() => decodeAuthnRequest(post(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${requestXml()}`), LIMITS), 'saml_malformed_request', /DOCTYPE/);
  });

  it('refuses a missing, repeated or non-entity Issuer', () => {
    fails(() => decodeAuthnRequest(post(requestXml().replace(/<saml:Issuer>.*<\/saml:Issuer>/, '')), LIMITS), 'saml_malformed_request', /exactly one saml:Issuer/);
    fails(() => decodeAuthnRequest(post(requestXml().replace('</saml:Issuer>', `</saml:Issuer><saml:Issuer>${SP_ID}</saml:Issuer>`)), LIMITS), 'saml_malformed_request', /schema: Element '\{urn:oasis:names:tc:SAML:2.0:assertion\}Issuer': This element is not expected/);
    const emailFormat = requestXml().replace('<saml:Issuer>', '<saml:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">');
    fails(() => decodeAuthnRequest(post(emailFormat), LIMITS), 'saml_malformed_request', /Format/);
  });

  it('refuses repeated SAML parameters and a SigAlg without a Signature', async () => {
    const query = await redirectQuery(nodeSaml());
    fails(() => decodeAuthnRequest(redirect(`${query}&SAMLRequest=${queryParameter(query, 'SAMLRequest')}`), LIMITS), 'saml_malformed_request', /repeats the SAMLRequest/);
    fails(() => decodeAuthnRequest(redirect(query.replace(/&Signature=[^&]*/, '')), LIMITS), 'saml_malformed_request', /together/);
  });
});

describe('verifyAuthnRequest', () => {
  describe('HTTP-Redirect', () => {
    it('accepts a request signed by node-saml and reads its fields', async () => {
      const request = verify(redirect(await redirectQuery(nodeSaml(), 'state-1')));
      assert.equal(request.issuer, SP_ID);
      assert.equal(request.signed, true);
      assert.equal(request.version, '2.0');
      assert.equal(request.destination, SSO_URL);
      assert.equal(request.assertionConsumerServiceUrl, ACS_URL);
      assert.equal(request.protocolBinding, BINDINGS.post);
      assert.equal(request.nameIdFormat, PERSISTENT);
      assert.equal(request.forceAuthn, false);
      assert.equal(request.isPassive, false);
      assert.match(request.id, /^_/);
      assert.ok(Math.abs(request.issueInstant.getTime() - Date.now()) < 60_000);
    });

    it('verifies with any registered signing certificate (key rollover)', async () => {
      const query = await redirectQuery(nodeSaml({ keys: rolloverKeys }));
      assert.equal(verify(redirect(query), serviceProvider({ signingCertificates: [spKeys.certPem, rolloverKeys.certPem] })).signed, true);
      fails(() => verify(redirect(query)), 'saml_signature_invalid', /does not verify/);
    });

    it('verifies a signature over parameters in any order, since the signed octets have a fixed order', async () => {
      const query = await redirectQuery(nodeSaml(), 'abc');
      const reordered = query.split('&').reverse().join('&');
      assert.equal(verify(redirect(reordered)).signed, true);
    });

    it('refuses a changed, removed or added RelayState', async () => {
      const query = await redirectQuery(nodeSaml(), 'original');
      fails(() => verify(redirect(replaceParameter(query, 'RelayState', 'changed'))), 'saml_signature_invalid', /does not verify/);
      fails(() => verify(redirect(query.replace(/&RelayState=[^&]*/, ''))), 'saml_signature_invalid', /does not verify/);
      const withoutRelayState = await redirectQuery(nodeSaml());
      fails(() => verify(redirect(`${withoutRelayState}&RelayState=added`)), 'saml_signature_invalid', /does not verify/);
    });

    it('verifies the octets as received: re-encoding a value breaks the signature', async () => {
      const query = await redirectQuery(nodeSaml());
      const samlRequest = queryParameter(query, 'SAMLRequest');
      assert.match(samlRequest, /%2[BF]|%3D/);
      const lowerCased = samlRequest.replace(/%([0-9A-F]{2})/g, (_match, hex: string) => `%${hex.toLowerCase()}`);
      fails(() => verify(redirect(replaceParameter(query, 'SAMLRequest', lowerCased))), 'saml_signature_invalid', /does not verify/);
    });

    it('refuses RSA-SHA1, HMAC and unknown SigAlg values', async () => {
      fails(() => verify(redirect(signedQuery(requestXml(), spKeys, { sigAlg: ALG.rsaSha1, hash: 'sha1' }))), 'saml_signature_invalid', /rsa-sha1 is not accepted/);
      const viaNodeSaml = await redirectQuery(nodeSaml({ signatureAlgorithm: 'sha1' }));
      fails(() => verify(redirect(viaNodeSaml)), 'saml_signature_invalid', /not accepted/);
      const hmac = replaceParameter(await redirectQuery(nodeSaml()), 'SigAlg', encodeURIComponent(ALG.hmacSha1));
      fails(() => verify(redirect(hmac)), 'saml_signature_invalid', /hmac-sha1 is not accepted/);
      fails(() => verify(redirect(signedQuery(requestXml(), spKeys, { sigAlg: 'urn:made-up' }))), 'saml_signature_invalid', /not accepted/);
    });

    it('refuses a SigAlg changed after signing', async () => {
      const query = await redirectQuery(nodeSaml());
      fails(() => verify(redirect(replaceParameter(query, 'SigAlg', encodeURIComponent(ALG.rsaSha512)))), 'saml_signature_invalid', /does not verify/);
    });

    it('refuses a signature by a key the SP did not register', async () => {
      const query = await redirectQuery(nodeSaml({ keys: attackerKeys }));
      fails(() => verify(redirect(query)), 'saml_signature_invalid', /does not verify/);
    });

    it('refuses a Signature that is not base64', async () => {
      const query = await redirectQuery(nodeSaml());
      fails(() => verify(redirect(replaceParameter(query, 'Signature', 'not*base64'))), 'saml_signature_invalid', /not base64/);
    });

    it('accepts ECDSA-SHA256 (r||s) with an EC certificate, and refuses a DER-encoded value', () => {
      const sp = serviceProvider({ signingCertificates: [ecKeys.certPem] });
      assert.equal(verify(redirect(signedQuery(requestXml(), ecKeys, { sigAlg: ALG.ecdsaSha256 })), sp).signed, true);
      fails(() => verify(redirect(signedQuery(requestXml(), ecKeys, { sigAlg: ALG.ecdsaSha256, dsaEncoding: 'der' })), sp), 'saml_signature_invalid');
    });

    it('never checks an algorithm against a key of the other type', () => {
      const sp = serviceProvider({ signingCertificates: [ecKeys.certPem] });
      fails(() => verify(redirect(signedQuery(requestXml(), ecKeys, { sigAlg: ALG.rsaSha256 })), sp), 'saml_signature_invalid', /does not verify/);
    });

    it('requires a signature when the SP registered AuthnRequestsSigned', async () => {
      const query = await redirectQuery(nodeSaml({ keys: null }));
      fails(() => verify(redirect(query)), 'saml_signature_required');
      const request = verify(redirect(query), serviceProvider({ authnRequestsSigned: false }));
      assert.equal(request.signed, false);
    });

    it('checks a signature that is present even when the SP does not require one', async () => {
      const sp = serviceProvider({ authnRequestsSigned: false });
      const query = await redirectQuery(nodeSaml({ keys: attackerKeys }));
      fails(() => verify(redirect(query), sp), 'saml_signature_invalid', /does not verify/);
    });

    it('refuses a signed request when the SP has no signing certificate', async () => {
      const sp = serviceProvider({ authnRequestsSigned: false, signingCertificates: [] });
      const query = await redirectQuery(nodeSaml());
      fails(() => verify(redirect(query), sp), 'saml_signature_invalid', /no registered signing certificate/);
    });

    it('refuses an XML signature inside a Redirect request', () => {
      const xml = signXml(requestXml(), spKeys);
      fails(() => verify(redirect(unsignedQuery(xml)), serviceProvider({ authnRequestsSigned: false })), 'saml_signature_invalid', /signed in the query/);
    });

    it('refuses a validly signed request whose Issuer is another entity', async () => {
      const query = await redirectQuery(nodeSaml({ issuer: 'https://other.example.test/saml' }));
      fails(() => verify(redirect(query)), 'saml_signature_invalid', /Issuer/);
      const unsigned = unsignedQuery(requestXml({ issuer: 'https://other.example.test/saml' }));
      fails(() => verify(redirect(unsigned), serviceProvider({ authnRequestsSigned: false })), 'saml_unknown_sp');
    });
  });

  describe('HTTP-POST', () => {
    it('accepts a request signed by node-saml (RSA-SHA256) and reads its fields', async () => {
      const form = await postForm(nodeSaml({ binding: 'HTTP-POST' }), 'rs');
      const request = verify({ binding: 'post', samlRequest: form.samlRequest, relayState: form.relayState });
      assert.equal(request.signed, true);
      assert.equal(request.issuer, SP_ID);
      assert.equal(request.destination, SSO_URL);
      assert.equal(request.assertionConsumerServiceUrl, ACS_URL);
      assert.equal(request.nameIdFormat, PERSISTENT);
    });

    it('accepts RSA-SHA512 with a SHA-512 digest from node-saml', async () => {
      const saml = nodeSaml({ binding: 'HTTP-POST', signatureAlgorithm: 'sha512', digestAlgorithm: 'sha512' });
      const form = await postForm(saml);
      assert.match(postXml(form.samlRequest), /rsa-sha512.*xmlenc#sha512/);
      assert.equal(verify({ binding: 'post', samlRequest: form.samlRequest, relayState: undefined }).signed, true);
    });

    it('accepts ECDSA-SHA256 with an EC certificate', () => {
      const xml = signXml(requestXml(), ecKeys, { signatureAlgorithm: ALG.ecdsaSha256 });
      assert.equal(verify(post(xml), serviceProvider({ signingCertificates: [ecKeys.certPem] })).signed, true);
    });

    it('reads values whole from the signed content: a comment neither breaks the signature nor truncates the Issuer', () => {
      const signed = signXml(requestXml(), spKeys);
      const commented = signed.replace(`<saml:Issuer>${SP_ID}</saml:Issuer>`, '<saml:Issuer>https://sp.example.test/<!-- unsigned -->saml</saml:Issuer>');
      assert.notEqual(commented, signed);
      const request = verify(post(commented));
      assert.equal(request.issuer, SP_ID);
      assert.equal(request.signed, true);
    });

    it('requires a signature when the SP registered AuthnRequestsSigned', () => {
      fails(() => verify(post(requestXml())), 'saml_signature_required');
      assert.equal(verify(post(requestXml()), serviceProvider({ authnRequestsSigned: false })).signed, false);
    });

    it('refuses content changed after signing, whatever the SP flag', async () => {
      const form = await postForm(nodeSaml({ binding: 'HTTP-POST' }));
      const tampered = postXml(form.samlRequest).replace(ACS_URL, 'https://evil.example/acs');
      fails(() => verify(post(tampered), serviceProvider({ authnRequestsSigned: false })), 'saml_signature_invalid', /does not verify/);
    });

    it('takes the key only from metadata, never from KeyInfo', async () => {
      const forged = signXml(requestXml({ attributes: { AssertionConsumerServiceURL: 'https://evil.example/acs' } }), attackerKeys, {
        publicCert: attackerKeys.certPem,
      });
      assert.match(forged, /<ds:X509Certificate>/);
      fails(() => verify(post(forged)), 'saml_signature_invalid', /does not verify/);
      const genuine = await postForm(nodeSaml({ binding: 'HTTP-POST', publicCert: attackerKeys.certPem }));
      assert.match(postXml(genuine.samlRequest), /<X509Certificate>/);
      assert.equal(verify({ binding: 'post', samlRequest: genuine.samlRequest, relayState: undefined }).signed, true);
    });

    it('refuses RSA-SHA1 and SHA-1 digests, even when cryptographically valid', async () => {
      const sha1 = await postForm(nodeSaml({ binding: 'HTTP-POST', signatureAlgorithm: 'sha1', digestAlgorithm: 'sha1' }));
      fails(() => verify({ binding: 'post', samlRequest: sha1.samlRequest, relayState: undefined }), 'saml_signature_invalid', /rsa-sha1 is not accepted/);
      fails(() => verify(post(signXml(requestXml(), spKeys, { digestAlgorithm: ALG.sha1 }))), 'saml_signature_invalid', /digest algorithm .*sha1 is not accepted/);
    });

    it('refuses HMAC', () => {
      const hmac = signXml(requestXml(), spKeys).replace(`Algorithm="${ALG.rsaSha256}"`, `Algorithm="${ALG.hmacSha1}"`);
      fails(() => verify(post(hmac)), 'saml_signature_invalid', /hmac-sha1 is not accepted/);
    });

    it('refuses canonicalization or transforms other than exclusive c14n without comments', () => {
      fails(() => verify(post(signXml(requestXml(), spKeys, { canonicalization: ALG.c14n }))), 'saml_signature_invalid', /canonicalization .* not accepted/);
      fails(() => verify(post(signXml(requestXml(), spKeys, { canonicalization: ALG.excC14nWithComments }))), 'saml_signature_invalid', /canonicalization .* not accepted/);
      fails(() => verify(post(signXml(requestXml(), spKeys, { transforms: [ALG.enveloped, ALG.excC14nWithComments] }))), 'saml_signature_invalid', /transforms .* not accepted/);
      fails(() => verify(post(signXml(requestXml(), spKeys, { transforms: [ALG.enveloped] }))), 'saml_signature_invalid', /transforms .* not accepted/);
    });

    describe('signature wrapping and reference tricks', () => {
      let signed: string;
      let signedId: string;
      before(async () => {
        signed = postXml((await postForm(nodeSaml({ binding: 'HTTP-POST' }))).samlRequest).replace(/^<\?xml[^>]*>/, '');
        signedId = /ID="([^"]+)"/.exec(signed)?.[1] ?? '';
        assert.ok(signedId);
      });

      // node-saml writes the signature in the default namespace, without a ds: prefix.
      const SIGNATURE = /<Signature[\s\S]*<\/Signature>/;
      const outer = (id: string, inner: string) =>
        requestXml({ id, attributes: { AssertionConsumerServiceURL: 'https://evil.example/acs' }, inner: `<samlp:Extensions>${inner}</samlp:Extensions>` });
      // samlp:Extensions admits only other namespaces: a foreign wrapper gets the copy past the schema.
      const foreign = (content: string) => `<x:Wrapper xmlns:x="urn:x">${content}</x:Wrapper>`;
      const signatureOf = (xml: string) => SIGNATURE.exec(xml)?.[0] ?? '';

      it('a signed request moved inside an outer unsigned request with another ACS', () => {
        const wrapped = outer('_evil', foreign(signed));
        fails(() => verify(post(wrapped)), 'saml_signature_invalid', /not a direct child of the root/);
        fails(() => verify(post(wrapped), serviceProvider({ authnRequestsSigned: false })), 'saml_signature_invalid', /not a direct child of the root/);
      });

      it('the signature moved to an outer root that reuses the signed ID (the schema refuses the duplicate xs:ID first)', () => {
        const signature = signatureOf(signed);
        const wrapped = outer(signedId, foreign(signed.replace(signature, ''))).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
        fails(() => verify(post(wrapped)), 'saml_malformed_request', /schema/);
        fails(() => verifySignatureOnly(wrapped), 'saml_signature_invalid', /carried by 2 elements/);
      });

      it('the signature moved to an outer root with its own ID', () => {
        const signature = signatureOf(signed);
        const wrapped = outer('_evil', foreign(signed.replace(signature, ''))).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
        fails(() => verify(post(wrapped)), 'saml_signature_invalid', /does not point at the signed element/);
      });

      it('a second element carrying the signed ID (ID, Id or id)', () => {
        for (const attribute of ['ID', 'Id', 'id']) {
          const decoy = `<samlp:Extensions><x:Decoy xmlns:x="urn:x" ${attribute}="${signedId}"/></samlp:Extensions>`;
          const duplicate = signed.replace('</Signature>', `</Signature>${decoy}`);
          fails(() => verify(post(duplicate)), 'saml_signature_invalid', /carried by 2 elements/);
        }
      });

      it('a second Reference in SignedInfo', () => {
        const reference = /<Reference[\s\S]*<\/Reference>/.exec(signed)?.[0] ?? '';
        const twice = signed.replace(reference, reference + reference);
        fails(() => verify(post(twice)), 'saml_signature_invalid', /more than one ds:Reference/);
      });

      it('a Reference to another element than the root', () => {
        const xml = requestXml({ inner: '<samlp:Extensions><x:Item xmlns:x="urn:x" ID="_item">harmless</x:Item></samlp:Extensions>' });
        const forged = signXml(xml, spKeys, { referenceXpath: "//*[local-name(.)='Item']" });
        fails(() => verify(post(forged)), 'saml_signature_invalid', /does not point at the signed element/);
      });

      it('a second ds:Signature anywhere in the document', () => {
        const twice = signed.replace('</Signature>', `</Signature><samlp:Extensions>${signatureOf(signed)}</samlp:Extensions>`);
        fails(() => verify(post(twice)), 'saml_signature_invalid', /exactly one ds:Signature, found 2/);
      });

      it('KeyInfo placed before SignatureValue, out of schema order', () => {
        const keyInfo = '<KeyInfo><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo>';
        const reordered = signed.replace('<SignatureValue>', `${keyInfo}<SignatureValue>`);
        fails(() => verify(post(reordered)), 'saml_malformed_request', /schema: Element '\{http:\/\/www.w3.org\/2000\/09\/xmldsig#\}KeyInfo': This element is not expected/);
        fails(() => verifySignatureOnly(reordered), 'saml_signature_invalid', /ds:SignatureValue is out of order/);
      });

      it('a ds:Object smuggled into the signature', () => {
        const withObject = signed.replace('</Signature>', `<Object><samlp:AuthnRequest ID="_x" Version="2.0" IssueInstant="${isoNow()}"/></Object></Signature>`);
        fails(() => verify(post(withObject)), 'saml_signature_invalid', /unexpected element ds:Object/);
      });
    });
  });
});

describe('selectAssertionConsumerService', () => {
  const sp = () =>
    serviceProvider({
      assertionConsumerServices: [
        endpoint(BINDINGS.artifact, 'https://sp.example.test/saml/artifact', 2),
        endpoint(BINDINGS.post, 'http://sp.example.test/saml/plain', 3),
        endpoint(BINDINGS.post, 'https://sp.example.test/saml/acs-default', 1, true),
        endpoint(BINDINGS.post, 'https://sp.example.test/saml/acs-zero', 0),
        endpoint('urn:oasis:names:tc:SAML:2.0:bindings:PAOS', 'https://sp.example.test/saml/ecp', 4),
      ],
    });
  const request = (fields: Partial<AuthnRequest>): AuthnRequest => ({
    id: '_1',
    issuer: SP_ID,
    issueInstant: new Date(),
    version: '2.0',
    destination: SSO_URL,
    assertionConsumerServiceUrl: undefined,
    assertionConsumerServiceIndex: undefined,
    protocolBinding: undefined,
    nameIdFormat: undefined,
    forceAuthn: false,
    isPassive: false,
    signed: true,
    ...fields,
  });

  it('returns the registered https POST ACS whose Location equals the URL exactly', () => {
    assert.equal(selectAssertionConsumerService(sp(), request({ assertionConsumerServiceUrl: 'https://sp.example.test/saml/acs-zero' })).index, 0);
  });

  it('refuses URLs that differ in any way, or name an http or non-POST endpoint', () => {
    for (const url of [
      'https://sp.example.test/saml/acs-zero/',
      'https://SP.example.test/saml/acs-zero',
      'https://sp.example.test:443/saml/acs-zero',
      'https://sp.example.test/saml/acs-zero?x=1',
      'http://sp.example.test/saml/plain',
      'https://sp.example.test/saml/artifact',
      'https://evil.example/acs',
    ]) {
      fails(() => selectAssertionConsumerService(sp(), request({ assertionConsumerServiceUrl: url })), 'saml_acs_not_registered');
    }
  });

  it('refuses a ProtocolBinding other than HTTP-POST', () => {
    fails(() => selectAssertionConsumerService(sp(), request({ protocolBinding: BINDINGS.artifact })), 'saml_unsupported_binding');
    assert.equal(selectAssertionConsumerService(sp(), request({ protocolBinding: BINDINGS.post })).index, 1);
  });

  it('selects by index only an https HTTP-POST endpoint', () => {
    assert.equal(selectAssertionConsumerService(sp(), request({ assertionConsumerServiceIndex: 0 })).location, 'https://sp.example.test/saml/acs-zero');
    fails(() => selectAssertionConsumerService(sp(), request({ assertionConsumerServiceIndex: 2 })), 'saml_unsupported_binding');
    fails(() => selectAssertionConsumerService(sp(), request({ assertionConsumerServiceIndex: 3 })), 'saml_acs_not_registered');
    fails(() => selectAssertionConsumerService(sp(), request({ assertionConsumerServiceIndex: 9 })), 'saml_acs_not_registered');
  });

  it('refuses both a URL and an index', () => {
    fails(
      () => selectAssertionConsumerService(sp(), request({ assertionConsumerServiceUrl: 'https://sp.example.test/saml/acs-zero', assertionConsumerServiceIndex: 0 })),
      'saml_malformed_request',
    );
  });

  it('defaults to the isDefault POST ACS, else the lowest-index usable POST ACS', () => {
    assert.equal(selectAssertionConsumerService(sp(), request({})).location, 'https://sp.example.test/saml/acs-default');
    const noDefault = serviceProvider({
      assertionConsumerServices: sp().assertionConsumerServices.map((e) => ({ ...e, isDefault: false })),
    });
    assert.equal(selectAssertionConsumerService(noDefault, request({})).location, 'https://sp.example.test/saml/acs-zero');
    const artifactDefault = serviceProvider({
      assertionConsumerServices: [endpoint(BINDINGS.artifact, 'https://sp.example.test/a', 0, true), endpoint(BINDINGS.post, 'https://sp.example.test/p', 5)],
    });
    assert.equal(selectAssertionConsumerService(artifactDefault, request({})).location, 'https://sp.example.test/p');
  });

  it('refuses when the SP has no usable ACS', () => {
    const unusable = serviceProvider({ assertionConsumerServices: [endpoint(BINDINGS.post, 'http://sp.example.test/acs', 0, true)] });
    fails(() => selectAssertionConsumerService(unusable, request({})), 'saml_acs_not_registered');
  });
});

describe('checkAuthnRequest', () => {
  const now = new Date('2026-03-01T10:00:00Z');
  const request = (fields: Partial<AuthnRequest> = {}): AuthnRequest => ({
    id: `_${randomBytes(8).toString('hex')}`,
    issuer: SP_ID,
    issueInstant: now,
    version: '2.0',
    destination: SSO_URL,
    assertionConsumerServiceUrl: ACS_URL,
    assertionConsumerServiceIndex: undefined,
    protocolBinding: BINDINGS.post,
    nameIdFormat: PERSISTENT,
    forceAuthn: false,
    isPassive: false,
    signed: true,
    ...fields,
  });
  let replay: MemoryReplayCache;
  const deps = () => ({ now, ssoUrl: SSO_URL, clockSkewSeconds: 180, replay, replayTtlSeconds: 420 });
  beforeEach(() => {
    replay = new MemoryReplayCache();
  });

  it('accepts a fresh request and stores its ID per issuer until now + replayTtlSeconds', async () => {
    const accepted = request();
    await checkAuthnRequest(accepted, deps());
    assert.deepEqual(replay.calls, [{ namespace: `authn-request:${SP_ID}`, id: accepted.id, expiresAt: new Date('2026-03-01T10:07:00Z'), now }]);
  });

  it('refuses a replayed request ID', async () => {
    const once = request();
    await checkAuthnRequest(once, deps());
    await failsAsync(() => checkAuthnRequest(once, deps()), 'saml_request_replayed');
  });

  it('refuses a Version other than 2.0', async () => {
    await failsAsync(() => checkAuthnRequest(request({ version: '1.1' }), deps()), 'saml_version_mismatch');
    await failsAsync(() => checkAuthnRequest(request({ version: '2.00' }), deps()), 'saml_version_mismatch');
  });

  it('refuses a Destination other than the SSO URL, compared exactly', async () => {
    await failsAsync(() => checkAuthnRequest(request({ destination: `${SSO_URL}/` }), deps()), 'saml_wrong_destination');
    await failsAsync(() => checkAuthnRequest(request({ destination: 'https://other-idp.example/sso' }), deps()), 'saml_wrong_destination');
  });

  it('requires a Destination on a signed request only', async () => {
    await failsAsync(() => checkAuthnRequest(request({ destination: undefined }), deps()), 'saml_wrong_destination');
    await checkAuthnRequest(request({ destination: undefined, signed: false }), deps());
  });

  it('refuses an IssueInstant beyond the clock skew, in either direction', async () => {
    await checkAuthnRequest(request({ issueInstant: new Date(now.getTime() - 180_000) }), deps());
    await checkAuthnRequest(request({ issueInstant: new Date(now.getTime() + 180_000) }), deps());
    await failsAsync(() => checkAuthnRequest(request({ issueInstant: new Date(now.getTime() - 181_000) }), deps()), 'saml_request_stale');
    await failsAsync(() => checkAuthnRequest(request({ issueInstant: new Date(now.getTime() + 181_000) }), deps()), 'saml_request_stale');
  });

  it('refuses NameID formats other than persistent, transient or unspecified', async () => {
    for (const format of [PERSISTENT, 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient', 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', undefined]) {
      await checkAuthnRequest(request({ nameIdFormat: format }), deps());
    }
    await failsAsync(() => checkAuthnRequest(request({ nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }), deps()), 'saml_invalid_nameid_policy');
  });

  it('does not use up the ID of a request refused for another reason', async () => {
    const stale = request({ issueInstant: new Date(now.getTime() - 3_600_000) });
    await failsAsync(() => checkAuthnRequest(stale, deps()), 'saml_request_stale');
    assert.equal(replay.calls.length, 0);
  });

  it('runs end to end on a node-saml request', async () => {
    const verified = verify(redirect(await redirectQuery(nodeSaml())));
    await checkAuthnRequest(verified, { ...deps(), now: new Date() });
    assert.equal(replay.calls[0]?.id, verified.id);
  });
});

describe('reading request fields', () => {
  const unsignedSp = () => serviceProvider({ authnRequestsSigned: false });

  it('reads ForceAuthn, IsPassive, the ACS index and a time zone offset', () => {
    const xml = requestXml({
      attributes: { ForceAuthn: 'true', IsPassive: '1', AssertionConsumerServiceIndex: '3', IssueInstant: '2026-03-01T11:00:00.5+01:00' },
    }).replace(/ AssertionConsumerServiceURL="[^"]*"/, '');
    const request = verify(post(xml), unsignedSp());
    assert.equal(request.forceAuthn, true);
    assert.equal(request.isPassive, true);
    assert.equal(request.assertionConsumerServiceIndex, 3);
    assert.equal(request.assertionConsumerServiceUrl, undefined);
    assert.equal(request.issueInstant.toISOString(), '2026-03-01T10:00:00.500Z');
  });

  it('refuses a missing ID or Version, or an IssueInstant that is not a UTC xs:dateTime', () => {
    fails(() => verify(post(requestXml().replace(/ ID="[^"]*"/, '')), unsignedSp()), 'saml_malformed_request', /attribute 'ID' is required/);
    fails(() => verify(post(requestXml().replace(/ Version="[^"]*"/, '')), unsignedSp()), 'saml_malformed_request', /attribute 'Version' is required/);
    for (const instant of ['2026-03-01T10:00:00', '2026-02-30T10:00:00Z', 'yesterday', '2026-03-01 10:00:00Z']) {
      fails(() => verify(post(requestXml({ attributes: { IssueInstant: instant } })), unsignedSp()), 'saml_malformed_request', /IssueInstant/);
    }
  });

  it('refuses malformed flags, indexes and repeated NameIDPolicy', () => {
    fails(() => verify(post(requestXml({ attributes: { ForceAuthn: 'yes' } })), unsignedSp()), 'saml_malformed_request', /ForceAuthn/);
    fails(() => verify(post(requestXml({ attributes: { AssertionConsumerServiceIndex: '70000' } })), unsignedSp()), 'saml_malformed_request', /xs:unsignedShort/);
    fails(() => verify(post(requestXml({ attributes: { AssertionConsumerServiceIndex: '-1' } })), unsignedSp()), 'saml_malformed_request', /xs:unsignedShort/);
    const twoPolicies = requestXml({ inner: `<samlp:NameIDPolicy Format="${PERSISTENT}"/><samlp:NameIDPolicy/>` });
    fails(() => verify(post(twoPolicies), unsignedSp()), 'saml_malformed_request', /NameIDPolicy/);
  });
});
