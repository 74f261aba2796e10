import { createPrivateKey, sign, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/*
 * Real, distinct, self-signed X.509 certificates for a fleet of 100,000 agents,
 * fast enough to make in seconds. Building each certificate with @peculiar/x509
 * takes about 2 ms (its ASN.1 work, not the signature), so one certificate per
 * key is built that way as a template, and each agent's certificate is the
 * template's to-be-signed part with its own serial number and common name
 * written over the template's (same lengths, so no DER length changes), signed
 * again with the key. Every certificate parses, verifies under its own key and
 * has its own SHA-256 thumbprint; agents share a key in groups of AGENTS_PER_KEY.
 */

const AGENTS_PER_KEY = 1_000;
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** A serial the template is built with, found again in its bytes and replaced per agent. */
const SERIAL_MARK = Buffer.from('11223344556677889900aabbccddeeff', 'hex');

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

interface Template {
  readonly tbs: Buffer;
  readonly signatureAlgorithm: Buffer;
  readonly serialAt: number;
  readonly nameAt: readonly number[];
  readonly key: KeyObject;
}

/** A DER element's header length and content length at `offset`. */
function element(der: Buffer, offset: number): { header: number; length: number } {
  const first = der[offset + 1]!;
  if (first < 0x80) return { header: 2, length: first };
  const bytes = first & 0x7f;
  let length = 0;
  for (let i = 0; i < bytes; i++) length = length * 256 + der[offset + 2 + i]!;
  return { header: 2 + bytes, length };
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function occurrences(haystack: Buffer, needle: Buffer): number[] {
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) found.push(at);
  return found;
}

export class FleetCertificates {
  private readonly templates = new Map<number, Promise<Template>>();

  /**
   * @param nameOf the common name of agent i; every name must have the same length
   * @param notBefore / notAfter the validity every certificate carries
   */
  constructor(
    private readonly nameOf: (index: number) => string,
    private readonly notBefore: Date,
    private readonly notAfter: Date,
  ) {}

  private template(group: number): Promise<Template> {
    let made = this.templates.get(group);
    if (!made) {
      made = this.makeTemplate(group);
      this.templates.set(group, made);
    }
    return made;
  }

  private async makeTemplate(group: number): Promise<Template> {
    const keys = await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
    const name = this.nameOf(group * AGENTS_PER_KEY);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: SERIAL_MARK.toString('hex'),
      name: `CN=${name}`,
      notBefore: this.notBefore,
      notAfter: this.notAfter,
      signingAlgorithm: P256,
      keys,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    });
    const der = Buffer.from(certificate.rawData);
    const outer = element(der, 0);
    const tbsAt = outer.header;
    const tbsElement = element(der, tbsAt);
    const tbs = der.subarray(tbsAt, tbsAt + tbsElement.header + tbsElement.length);
    const algorithmAt = tbsAt + tbs.length;
    const algorithm = element(der, algorithmAt);
    const signatureAlgorithm = der.subarray(algorithmAt, algorithmAt + algorithm.header + algorithm.length);
    const serials = occurrences(tbs, SERIAL_MARK);
    const names = occurrences(tbs, Buffer.from(name, 'utf8'));
    // Issuer and subject: a self-signed certificate names itself twice.
    if (serials.length !== 1 || names.length !== 2) throw new Error('fleet certificate template: serial or name not found where expected');
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return {
      tbs: Buffer.from(tbs),
      signatureAlgorithm: Buffer.from(signatureAlgorithm),
      serialAt: serials[0]!,
      nameAt: names,
      key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    };
  }

  /** The DER certificate of agent `index`, with `serial` (16 random bytes) as its serial number. */
  async certificate(index: number, serial: Buffer): Promise<Buffer> {
    const template = await this.template(Math.floor(index / AGENTS_PER_KEY));
    const tbs = Buffer.from(template.tbs);
    serial.copy(tbs, template.serialAt, 0, SERIAL_MARK.length);
    // A positive INTEGER without a leading zero byte: the first byte stays in 0x01..0x7f.
    tbs[template.serialAt] = (tbs[template.serialAt]! % 0x7f) + 1;
    const name = Buffer.from(this.nameOf(index), 'utf8');
    for (const at of template.nameAt) name.copy(tbs, at);
    const signature = sign('sha256', tbs, { key: template.key, dsaEncoding: 'der' });
    const bitString = Buffer.concat([Buffer.from([0x03]), derLength(signature.length + 1), Buffer.from([0x00]), signature]);
    const body = Buffer.concat([tbs, template.signatureAlgorithm, bitString]);
    return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  }
}
