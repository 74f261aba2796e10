/**
 * LogoutResponse: built for an SP that sent us a LogoutRequest (signed in the XML for
 * HTTP-POST, in the query for HTTP-Redirect), and read from the SOAP answers SPs give our
 * back-channel LogoutRequests.
 */
import { createSign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import type { Element } from '@xmldom/xmldom';
import type { SigningKey } from '../keys/index.js';
import { isoSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import { NS } from './namespaces.js';
import { qualified, signEnveloped, XMLDSIG } from './signing.js';
import { assertId, element } from './xml-builder.js';
import { attribute, childrenNamed, descendantsNamed, parseSafeXml, rootElement, trimmedText } from './xml.js';
import { validateSamlMessage } from './schema-validation.js';

export const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

export interface LogoutResponseInput {
  readonly id: string;
  readonly inResponseTo: string;
  readonly issuer: string;
  readonly destination: string;
  readonly issueInstant: Date;
  readonly topStatus: string;
  readonly secondStatus: string | undefined;
  readonly statusMessage: string | undefined;
}

const RESPONSE_XPATH = `/${qualified(NS.protocol, 'LogoutResponse')}`;

function unsignedLogoutResponse(input: LogoutResponseInput): string {
  const second = input.secondStatus === undefined ? undefined : element('samlp:StatusCode', { Value: input.secondStatus });
  return element(
    'samlp:LogoutResponse',
    {
      'xmlns:samlp': NS.protocol,
      'xmlns:saml': NS.assertion,
      ID: assertId(input.id),
      Version: '2.0',
      IssueInstant: isoSeconds(input.issueInstant),
      Destination: input.destination,
      InResponseTo: input.inResponseTo,
    },
    [
      element('saml:Issuer', {}, [input.issuer]),
      element('samlp:Status', {}, [
        element('samlp:StatusCode', { Value: input.topStatus }, [second]),
        input.statusMessage === undefined ? undefined : element('samlp:StatusMessage', {}, [input.statusMessage]),
      ]),
    ],
  ).toString();
}

/** HTTP-POST: the LogoutResponse signed in the XML, base64 for the form field. */
export function postLogoutResponse(input: LogoutResponseInput, key: SigningKey): string {
  const signed = signEnveloped(unsignedLogoutResponse(input), { element: RESPONSE_XPATH, after: `${RESPONSE_XPATH}/${qualified(NS.assertion, 'Issuer')}` }, key);
  return Buffer.from(signed, 'utf8').toString('base64');
}

/**
 * HTTP-Redirect (SAML bindings §3.4.4.1): deflated, base64, and the query
 * `SAMLResponse=…[&RelayState=…]&SigAlg=…` signed as the octets we send.
 */
export function redirectLogoutResponseUrl(input: LogoutResponseInput, relayState: string | undefined, key: SigningKey): string {
  const message = deflateRawSync(Buffer.from(unsignedLogoutResponse(input), 'utf8')).toString('base64');
  const signedOctets =
    `SAMLResponse=${encodeURIComponent(message)}` +
    (relayState === undefined ? '' : `&RelayState=${encodeURIComponent(relayState)}`) +
    `&SigAlg=${encodeURIComponent(XMLDSIG.rsaSha256)}`;
  const signature = createSign('RSA-SHA256').update(signedOctets, 'utf8').sign(key.privateKey).toString('base64');
  const separator = input.destination.includes('?') ? '&' : '?';
  return `${input.destination}${separator}${signedOctets}&Signature=${encodeURIComponent(signature)}`;
}

export interface SoapLogoutResponse {
  readonly inResponseTo: string | undefined;
  readonly issuer: string | undefined;
  readonly status: string;
  readonly secondStatus: string | undefined;
}

/**
 * The LogoutResponse inside an SP's SOAP answer. The channel is authenticated by TLS (the
 * SP's certificate was verified for the host its metadata names), so this reads the
 * outcome; it does not grant anything.
 */
export function readSoapLogoutResponse(xml: string, maxBytes: number): SoapLogoutResponse {
  const document = parseSafeXml(xml, { maxBytes }, 'saml_malformed_request', 'the SOAP answer');
  validateSamlMessage(xml, 'SoapEnvelope');
  const envelope = rootElement(document);
  if (envelope.localName !== 'Envelope' || envelope.namespaceURI !== SOAP_ENVELOPE) throw new TesseraError('saml_malformed_request', 'the answer is not a SOAP 1.1 Envelope');
  const responses = descendantsNamed(document, NS.protocol, 'LogoutResponse');
  if (responses.length !== 1) throw new TesseraError('saml_malformed_request', 'the SOAP answer carries no single samlp:LogoutResponse');
  const response = responses[0] as Element;
  const status = childrenNamed(response, NS.protocol, 'Status')[0];
  const top = status ? childrenNamed(status, NS.protocol, 'StatusCode')[0] : undefined;
  if (top === undefined) throw new TesseraError('saml_malformed_request', 'the LogoutResponse has no StatusCode');
  const second = childrenNamed(top, NS.protocol, 'StatusCode')[0];
  const issuer = childrenNamed(response, NS.assertion, 'Issuer')[0];
  return {
    inResponseTo: attribute(response, 'InResponseTo'),
    issuer: issuer ? trimmedText(issuer) : undefined,
    status: attribute(top, 'Value') ?? '',
    secondStatus: second ? attribute(second, 'Value') : undefined,
  };
}

export const SOAP_ENVELOPE = 'http://schemas.xmlsoap.org/soap/envelope/';
