/**
 * Assertion encryption (SAML core §2.3.4, §6): the signed Assertion becomes the content of an
 * xenc:EncryptedData, AES-256-GCM under a fresh key, and that key travels RSA-OAEP-encrypted to
 * the SP's registered encryption certificate in an EncryptedKey inside the EncryptedData's KeyInfo.
 *
 * Only these two algorithms exist here: no CBC mode (padding oracles, XML Encryption 1.1 §5.2.1
 * warning) and no RSA PKCS#1 v1.5 key transport (Bleichenbacher) can be produced. Key transport
 * is rsa-oaep-mgf1p with its default SHA-1 OAEP digest, the one every SAML SP can decrypt
 * (SimpleSAMLphp's xmlseclibs knows no other); OAEP's use of SHA-1 does not rest on collision
 * resistance, unlike a signature's. The XML is written through the escaping builder; the
 * encryption itself is node:crypto, synchronous, so the response builder stays synchronous.
 */
import { createCipheriv, constants, publicEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { TesseraError } from '../common/errors.js';
import { NS } from './namespaces.js';
import { element, type Markup } from './xml-builder.js';

export const XMLENC = {
  namespace: 'http://www.w3.org/2001/04/xmlenc#',
  elementType: 'http://www.w3.org/2001/04/xmlenc#Element',
  aes256Gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
} as const;

/** XML Encryption 1.1 §5.2.4: a 96-bit IV before the ciphertext, a 128-bit tag after it. */
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const AES_256_KEY_BYTES = 32;

export interface AssertionEncryptionInput {
  /** The signed saml:Assertion, a standalone document (it declares its own namespaces). */
  readonly signedAssertionXml: string;
  /** PEM of the SP's encryption certificate: an RSA key. */
  readonly certificatePem: string;
  /** The SP's entityID, written as the EncryptedKey's Recipient (SAML core §6.2). */
  readonly recipient: string;
}

/**
 * The saml:EncryptedAssertion carrying the signed assertion: self-contained markup (it declares
 * every prefix it uses), to be placed in the Response as it is.
 * @throws TesseraError('internal') when the certificate is not RSA (registration refuses those)
 */
export function encryptAssertion(input: AssertionEncryptionInput): string {
  const publicKey = new X509Certificate(input.certificatePem).publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new TesseraError('internal', 'the SP encryption certificate is not RSA', {
      internalDetail: `encryption key type ${String(publicKey.asymmetricKeyType)} for ${input.recipient}`,
    });
  }
  const contentKey = randomBytes(AES_256_KEY_BYTES);
  try {
    const cipherValue = aes256Gcm(contentKey, Buffer.from(input.signedAssertionXml, 'utf8'));
    const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, contentKey);
    return element('saml:EncryptedAssertion', { 'xmlns:saml': NS.assertion }, [
      element('xenc:EncryptedData', { 'xmlns:xenc': XMLENC.namespace, Type: XMLENC.elementType }, [
        element('xenc:EncryptionMethod', { Algorithm: XMLENC.aes256Gcm }),
        element('ds:KeyInfo', { 'xmlns:ds': NS.xmldsig }, [
          element('xenc:EncryptedKey', { Recipient: input.recipient }, [
            element('xenc:EncryptionMethod', { Algorithm: XMLENC.rsaOaepMgf1p }),
            // Names the key the SP must use, for SPs that hold more than one.
            element('ds:KeyInfo', {}, [element('ds:X509Data', {}, [element('ds:X509Certificate', {}, [certificateBase64(input.certificatePem)])])]),
            cipherData(encryptedKey),
          ]),
        ]),
        cipherData(cipherValue),
      ]),
    ]).toString();
  } finally {
    contentKey.fill(0);
  }
}

function aes256Gcm(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
}

function cipherData(value: Buffer): Markup {
  return element('xenc:CipherData', {}, [element('xenc:CipherValue', {}, [value.toString('base64')])]);
}

function certificateBase64(pem: string): string {
  return new X509Certificate(pem).raw.toString('base64');
}

