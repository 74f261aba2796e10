/*
 * Loopback service providers for back-channel logout tests: a test CA, HTTPS SOAP
 * endpoints on 127.0.0.1 with certificates from that CA, and an IdP started with that CA
 * among the CAs it trusts for SPs (what NODE_EXTRA_CA_CERTS gives a deployed IdP). Each SP
 * verifies every LogoutRequest's signature with xml-crypto against the IdP's metadata
 * certificate, independently of the IdP's own code.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomUUID, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Clock } from '../../lib/common/clock.js';
import { parseSpMetadata } from '../../lib/saml/sp-metadata.js';
import { toPem } from '../../lib/keys/certificates.js';
import { freePort, startTestIdp, type TestIdp } from './harness.js';

// lib/keys/certificates.js (imported above) points @peculiar/x509 at node:crypto's webcrypto.
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;
const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

export interface TestCa {
  readonly certificatePem: string;
  issue(names: readonly string[]): Promise<{ certificatePem: string; keyPem: string }>;
}

export async function createTestCa(): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Tessera test SP CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: RSA,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  let serial = 2;
  return {
    certificatePem: ca.toString('pem'),
    issue: async (names) => {
      const leafKeys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: `CN=${names[0]}`,
        issuer: ca.subject,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        signingAlgorithm: RSA,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.SubjectAlternativeNameExtension(names.map((name) => (/^\d+\.\d+\.\d+\.\d+$/.test(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name }))),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ],
      });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
      return { certificatePem: leaf.toString('pem'), keyPem: toPem('PRIVATE KEY', pkcs8) };
    },
  };
}

export interface ReceivedLogout {
  readonly receivedAt: number;
  readonly requestId: string;
  readonly issuer: string;
  readonly destination: string;
  readonly reason: string;
  readonly nameId: string;
  readonly sessionIndex: string;
  /** xml-crypto verified the enveloped signature against the IdP metadata certificate. */
  readonly signatureValid: boolean;
}

export interface SoapSp {
  readonly entityId: string;
  readonly port: number;
  readonly sloUrl: string;
  readonly received: ReceivedLogout[];
  /** Stops answering (connections refused), as an SP that is down. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  metadataXml(extra?: { frontChannelSlo?: string; signingCertificatePem?: string }): string;
}

/** An SP whose SOAP SingleLogoutService runs on 127.0.0.1 with a certificate from the test CA. */
export async function startSoapSp(ca: TestCa, idpSigningCertificates: () => readonly string[]): Promise<SoapSp> {
  const tls = await ca.issue(['127.0.0.1', 'localhost']);
  const name = randomUUID().slice(0, 8);
  const entityId = `https://sp-${name}.example.test/saml`;
  const port = await freePort();
  const received: ReceivedLogout[] = [];
  let server: Server | undefined;
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const logout = readLogout(body, idpSigningCertificates());
      received.push({ ...logout, receivedAt: Date.now() });
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(
        `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
          `<samlp:LogoutResponse xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="_r${randomUUID().replace(/-/g, '')}" Version="2.0" ` +
          `IssueInstant="${new Date().toISOString()}" InResponseTo="${logout.requestId}"><saml:Issuer>${entityId}</saml:Issuer>` +
          `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>` +
          `</soap:Body></soap:Envelope>`,
      );
    });
  };
  const up = async () => {
    server = createServer({ key: tls.keyPem, cert: tls.certificatePem }, handler);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
  };
  const down = async () => {
    const current = server;
    server = undefined;
    if (!current) return;
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  await up();
  const sloUrl = `https://127.0.0.1:${(server!.address() as AddressInfo).port}/saml/slo`;
  return {
    entityId,
    port,
    sloUrl,
    received,
    down,
    up,
    close: down,
    metadataXml: (extra = {}) => spMetadata({ entityId, soapSlo: sloUrl, ...extra }),
  };
}

function readLogout(body: string, certificates: readonly string[]): Omit<ReceivedLogout, 'receivedAt'> {
  const document = new DOMParser().parseFromString(body, 'text/xml');
  const request = document.getElementsByTagNameNS(PROTOCOL, 'LogoutRequest')[0];
  if (!request) throw new Error(`no LogoutRequest in ${body.slice(0, 200)}`);
  const signature = Array.from({ length: request.childNodes.length }, (_, i) => request.childNodes.item(i)).find(
    (node) => node?.nodeType === 1 && node.namespaceURI === DSIG && node.localName === 'Signature',
  );
  let signatureValid = false;
  for (const certificate of certificates) {
    if (signature === undefined || signature === null) break;
    const verifier = new SignedXml({ publicCert: certificate, getCertFromKeyInfo: () => null });
    verifier.loadSignature(signature as unknown as Parameters<SignedXml["loadSignature"]>[0]);
    try {
      if (verifier.checkSignature(body)) signatureValid = true;
    } catch {
      // a signature that does not verify with this certificate
    }
  }
  const text = (namespace: string, local: string) => request.getElementsByTagNameNS(namespace, local)[0]?.textContent?.trim() ?? '';
  return {
    requestId: request.getAttribute('ID') ?? '',
    issuer: text(ASSERTION, 'Issuer'),
    destination: request.getAttribute('Destination') ?? '',
    reason: request.getAttribute('Reason') ?? '',
    nameId: text(ASSERTION, 'NameID'),
    sessionIndex: text(PROTOCOL, 'SessionIndex'),
    signatureValid,
  };
}

/** SP metadata with an https ACS, a SOAP SLO and, optionally, front-channel SLO endpoints and a signing key. */
export function spMetadata(options: { entityId: string; soapSlo?: string; frontChannelSlo?: string; signingCertificatePem?: string }): string {
  const body = options.signingCertificatePem ? new X509Certificate(options.signingCertificatePem).raw.toString('base64') : undefined;
  return [
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${options.entityId}">`,
    `<md:SPSSODescriptor protocolSupportEnumeration="${PROTOCOL}" AuthnRequestsSigned="${body ? 'true' : 'false'}">`,
    body ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` : '',
    options.soapSlo ? `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="${options.soapSlo}"/>` : '',
    options.frontChannelSlo
      ? `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${options.frontChannelSlo}"/>` +
        `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${options.frontChannelSlo}"/>`
      : '',
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>`,
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${options.entityId.replace(/\/saml$/, '')}/acs" index="0" isDefault="true"/>`,
    `</md:SPSSODescriptor></md:EntityDescriptor>`,
  ].join('');
}

export async function registerSp(idp: TestIdp, metadataXml: string): Promise<void> {
  await idp.running.idp.store.serviceProviders.register(parseSpMetadata(metadataXml, { signResponse: true, now: new Date() }), false);
}

/**
 * A real IdP over HTTPS, as startTestIdp starts one, that also trusts the test CA for SPs'
 * TLS; dataDir may be reused to restart the IdP over the same database.
 */
export async function startTrustingIdp(options: { trustedCa: string; dataDir?: string; clock?: Clock; orchestratorToken?: string }): Promise<TestIdp> {
  return startTestIdp({
    trustedCaCertificates: [options.trustedCa],
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.orchestratorToken ? { orchestratorToken: options.orchestratorToken } : {}),
  });
}

/** The X509Certificate(s) the IdP publishes in its metadata, as PEM. */
export async function metadataCertificates(idp: TestIdp): Promise<string[]> {
  const metadata = await idp.request({ path: '/saml/metadata' });
  return [...metadata.body.matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)].map(
    (match) => `-----BEGIN CERTIFICATE-----\n${match[1]!.replace(/\s+/g, '').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
  );
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
