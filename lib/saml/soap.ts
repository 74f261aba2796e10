/**
 * The SAML SOAP binding (SAML bindings §3.2) as a client: one POST of a SOAP 1.1 envelope
 * over HTTPS. The SP's certificate is verified against Node's default CAs (which include
 * NODE_EXTRA_CA_CERTS) plus any CAs the composition was given; verification is never off,
 * and plain http is refused.
 */
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { TesseraError } from '../common/errors.js';
import { SOAP_ENVELOPE } from './logout-response.js';

export interface SoapClientOptions {
  /** Extra trusted CA certificates (PEM), on top of Node's default store. */
  readonly extraCaCertificates: readonly string[];
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface SoapAnswer {
  readonly status: number;
  readonly body: string;
}

/** Wraps a SAML message (already serialised) in a SOAP 1.1 envelope. */
export function soapEnvelope(samlXml: string): string {
  const message = samlXml.replace(/^<\?xml[^?]*\?>\s*/, '');
  return `<soap11:Envelope xmlns:soap11="${SOAP_ENVELOPE}"><soap11:Body>${message}</soap11:Body></soap11:Envelope>`;
}

export function postSoap(location: string, envelope: string, options: SoapClientOptions): Promise<SoapAnswer> {
  const url = new URL(location);
  if (url.protocol !== 'https:') return Promise.reject(new TesseraError('saml_unsupported_binding', `SOAP location ${location} is not https`));
  const ca = options.extraCaCertificates.length > 0 ? [...rootCertificates, ...options.extraCaCertificates] : undefined;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: '"http://www.oasis-open.org/committees/security"',
          'content-length': Buffer.byteLength(envelope),
        },
        ...(ca ? { ca } : {}),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        agent: false,
        timeout: options.timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxResponseBytes) {
            response.destroy(new Error(`the SOAP answer exceeds ${options.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer from ${url.host} within ${options.timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(envelope);
  });
}
