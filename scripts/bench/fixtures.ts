import { createPrivateKey, randomBytes, randomUUID, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import * as x509 from '@peculiar/x509';
import { SignJWT } from 'jose';
import { generateSelfSigned } from '../../lib/keys/index.js';

/*
 * What the load generator presents: agent credentials (RSA certificates for
 * mTLS, P-256 keys for JWTs, as hardware-backed agent keys usually are), SP
 * metadata, and fresh AuthnRequests and JWTs made ahead of each run so the
 * generator spends its CPU on HTTP, not on signing.
 */

export interface AgentCredential {
  readonly certPem: string;
  readonly keyPem: string;
  /** Base64 DER, as SCIM x509Certificates carries it. */
  readonly certBase64: string;
  readonly privateKey: KeyObject;
  readonly jwtAlgorithm: 'RS256' | 'ES256';
}

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export async function rsaCredential(commonName: string): Promise<AgentCredential> {
  const generated = await generateSelfSigned({ commonName, validDays: 2, now: new Date() });
  return {
    certPem: generated.certificatePem,
    keyPem: generated.privateKeyPem,
    certBase64: new X509Certificate(generated.certificatePem).raw.toString('base64'),
    privateKey: createPrivateKey(generated.privateKeyPem),
    jwtAlgorithm: 'RS256',
  };
}

const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function ecCredential(commonName: string): Promise<AgentCredential> {
  const keys = await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 2 * 86_400_000),
    signingAlgorithm: P256,
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  const certPem = certificate.toString('pem') + '\n';
  return {
    certPem,
    keyPem,
    certBase64: new X509Certificate(certPem).raw.toString('base64'),
    privateKey: createPrivateKey(keyPem),
    jwtAlgorithm: 'ES256',
  };
}

export interface BenchSp {
  readonly entityId: string;
  readonly acsUrl: string;
  readonly metadataXml: string;
}

/** SP metadata as a typical SP publishes it: signed assertions wanted, unsigned requests, one HTTP-POST ACS. */
export function spMetadata(name: string): BenchSp {
  const entityId = `https://${name}.bench.example/saml`;
  const acsUrl = `https://${name}.bench.example/saml/acs`;
  const metadataXml = [
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">`,
    '<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
    '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>',
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${acsUrl}" index="0" isDefault="true"/>`,
    '</md:SPSSODescriptor>',
    '</md:EntityDescriptor>',
  ].join('\n');
  return { entityId, acsUrl, metadataXml };
}

/** A fresh, unsigned AuthnRequest for the HTTP-Redirect binding: the path and query an agent follows. */
export function redirectAuthnRequestPath(sp: BenchSp, ssoUrl: string, now: Date): string {
  const id = `_${randomBytes(20).toString('hex')}`;
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${id}" Version="2.0" IssueInstant="${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}" Destination="${ssoUrl}"` +
    ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="${sp.acsUrl}">` +
    `<saml:Issuer>${sp.entityId}</saml:Issuer>` +
    `<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>` +
    `</samlp:AuthnRequest>`;
  const encoded = encodeURIComponent(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'));
  return `${new URL(ssoUrl).pathname}?SAMLRequest=${encoded}&RelayState=bench`;
}

/** A client-assertion JWT as the design specifies it: iss = sub = agent, aud = IdP, fresh jti, short life. */
export function agentJwt(credential: AgentCredential, userName: string, audience: string, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: credential.jwtAlgorithm, typ: 'JWT' })
    .setIssuer(userName)
    .setSubject(userName)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 240)
    .setJti(randomUUID())
    .sign(credential.privateKey);
}
