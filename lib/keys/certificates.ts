import { webcrypto, createHash, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { isIP } from 'node:net';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const RSA_2048 = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

export interface GeneratedKeyPair {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

/** An RSA-2048 key and a self-signed certificate for it. */
export async function generateSelfSigned(options: {
  commonName: string;
  validDays: number;
  /** DNS names and IP addresses for a TLS server certificate. */
  subjectAltNames?: readonly string[];
  now: Date;
}): Promise<GeneratedKeyPair> {
  const keys = await webcrypto.subtle.generateKey(RSA_2048, true, ['sign', 'verify']);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  if (options.subjectAltNames && options.subjectAltNames.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        options.subjectAltNames.map((name) => (isIP(name) ? { type: 'ip', value: name } : { type: 'dns', value: name })),
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    );
  } else {
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  }
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${options.commonName}`,
    notBefore: new Date(options.now.getTime() - 60_000),
    notAfter: new Date(options.now.getTime() + options.validDays * 86_400_000),
    signingAlgorithm: RSA_2048,
    keys,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    privateKeyPem: toPem('PRIVATE KEY', pkcs8),
    certificatePem: certificate.toString('pem') + '\n',
  };
}

export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The base64 DER body of a PEM certificate, as metadata and KeyInfo carry it. */
export function certificateBody(pem: string): string {
  return new X509Certificate(pem).raw.toString('base64');
}

/** Lower-case hex SHA-256 of the DER certificate: how agent certificates are pinned. */
export function certificateThumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}

/** Accepts PEM or bare base64 DER (as SCIM x509Certificates and metadata carry it). */
export function parseCertificate(text: string): X509Certificate {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN CERTIFICATE-----')) return new X509Certificate(trimmed);
  const body = trimmed.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('certificate is neither PEM nor base64 DER');
  return new X509Certificate(Buffer.from(body, 'base64'));
}
