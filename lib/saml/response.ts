import type { SigningKey } from '../keys/index.js';
import { isoSeconds } from '../common/clock.js';
import { NS } from './namespaces.js';
import { assertId, element, type Markup } from './xml-builder.js';
import { qualified, signEnveloped } from './signing.js';

/*
 * Response and Assertion, written as strings through the escaping builder and
 * then signed. Element order follows the schema's sequences; SPs that validate
 * reject anything else.
 */

export const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  versionMismatch: 'urn:oasis:names:tc:SAML:2.0:status:VersionMismatch',
  authnFailed: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
  invalidAttrNameOrValue: 'urn:oasis:names:tc:SAML:2.0:status:InvalidAttrNameOrValue',
  invalidNameIdPolicy: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy',
  noAuthnContext: 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext',
  noAvailableIdp: 'urn:oasis:names:tc:SAML:2.0:status:NoAvailableIDP',
  noPassive: 'urn:oasis:names:tc:SAML:2.0:status:NoPassive',
  noSupportedIdp: 'urn:oasis:names:tc:SAML:2.0:status:NoSupportedIDP',
  partialLogout: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout',
  proxyCountExceeded: 'urn:oasis:names:tc:SAML:2.0:status:ProxyCountExceeded',
  requestDenied: 'urn:oasis:names:tc:SAML:2.0:status:RequestDenied',
  requestUnsupported: 'urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported',
  requestVersionDeprecated: 'urn:oasis:names:tc:SAML:2.0:status:RequestVersionDeprecated',
  requestVersionTooHigh: 'urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooHigh',
  requestVersionTooLow: 'urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooLow',
  resourceNotRecognized: 'urn:oasis:names:tc:SAML:2.0:status:ResourceNotRecognized',
  tooManyResponses: 'urn:oasis:names:tc:SAML:2.0:status:TooManyResponses',
  unknownAttrProfile: 'urn:oasis:names:tc:SAML:2.0:status:UnknownAttrProfile',
  unknownPrincipal: 'urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal',
  unsupportedBinding: 'urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding',
} as const;

export const AUTHN_CONTEXT = {
  tlsClient: 'urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient',
  x509: 'urn:oasis:names:tc:SAML:2.0:ac:classes:X509',
} as const;

const ATTRNAME_FORMAT_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface SamlAttribute {
  readonly name: string;
  readonly values: readonly string[];
}

export interface SuccessResponseInput {
  /** IdP entityID. */
  readonly issuer: string;
  /** ACS URL: Response@Destination and SubjectConfirmationData@Recipient. */
  readonly destination: string;
  /** undefined for IdP-initiated sign-on. */
  readonly inResponseTo: string | undefined;
  /** SP entityID. */
  readonly audience: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  /** IDs start with '_' or a letter (NCName). */
  readonly responseId: string;
  readonly assertionId: string;
  readonly sessionIndex: string;
  readonly issueInstant: Date;
  /** Conditions@NotBefore. */
  readonly notBefore: Date;
  /** Conditions and SubjectConfirmationData NotOnOrAfter. */
  readonly notOnOrAfter: Date;
  /** AuthnStatement@SessionNotOnOrAfter: the tier lifetime. */
  readonly sessionNotOnOrAfter: Date;
  readonly authnInstant: Date;
  readonly authnContextClassRef: string;
  /** SubjectConfirmationData@Address: the agent's IP. */
  readonly subjectAddress: string | undefined;
  /** NameFormat basic; an attribute with no values is left out. */
  readonly attributes: readonly SamlAttribute[];
  /** The Assertion is always signed; the Response too when true. */
  readonly signResponse: boolean;
}

export interface ErrorResponseInput {
  readonly issuer: string;
  readonly destination: string;
  readonly inResponseTo: string | undefined;
  readonly responseId: string;
  readonly issueInstant: Date;
  readonly topStatus: string;
  readonly secondStatus: string | undefined;
  readonly statusMessage: string | undefined;
}

const RESPONSE_XPATH = `/${qualified(NS.protocol, 'Response')}`;
const ASSERTION_XPATH = `${RESPONSE_XPATH}/${qualified(NS.assertion, 'Assertion')}`;

/** A Response carrying one signed Assertion; the Response is signed around it when asked. */
export function buildSuccessResponse(input: SuccessResponseInput, key: SigningKey): string {
  const unsigned = response(input, status(STATUS.success, undefined, undefined), assertion(input)).toString();
  // The Assertion first: the Response's digest must cover the Assertion's signature.
  const assertionSigned = signEnveloped(unsigned, { element: ASSERTION_XPATH, after: issuerOf(ASSERTION_XPATH) }, key);
  return input.signResponse ? signResponse(assertionSigned, key) : assertionSigned;
}

/** A signed Response with a status and no assertion: what an SP gets when sign-on is refused. */
export function buildErrorResponse(input: ErrorResponseInput, key: SigningKey): string {
  const unsigned = response(input, status(input.topStatus, input.secondStatus, input.statusMessage), undefined);
  return signResponse(unsigned.toString(), key);
}

function signResponse(xml: string, key: SigningKey): string {
  return signEnveloped(xml, { element: RESPONSE_XPATH, after: issuerOf(RESPONSE_XPATH) }, key);
}

function issuerOf(parentXPath: string): string {
  return `${parentXPath}/${qualified(NS.assertion, 'Issuer')}`;
}

interface ResponseHeader {
  readonly issuer: string;
  readonly destination: string;
  readonly inResponseTo: string | undefined;
  readonly responseId: string;
  readonly issueInstant: Date;
}

function response(header: ResponseHeader, statusElement: Markup, assertionElement: Markup | undefined): Markup {
  return element(
    'samlp:Response',
    {
      'xmlns:samlp': NS.protocol,
      'xmlns:saml': NS.assertion,
      ID: assertId(header.responseId),
      Version: '2.0',
      IssueInstant: isoSeconds(header.issueInstant),
      Destination: header.destination,
      InResponseTo: header.inResponseTo,
    },
    [element('saml:Issuer', {}, [header.issuer]), statusElement, assertionElement],
  );
}

function status(top: string, second: string | undefined, message: string | undefined): Markup {
  const secondCode = second === undefined ? undefined : element('samlp:StatusCode', { Value: second });
  return element('samlp:Status', {}, [
    element('samlp:StatusCode', { Value: top }, [secondCode]),
    message === undefined ? undefined : element('samlp:StatusMessage', {}, [message]),
  ]);
}

/**
 * The Assertion declares its own namespaces so it stands alone once extracted
 * (by an SP after verifying it, or for encryption), and xs/xsi for the
 * xsi:type="xs:string" on every AttributeValue.
 */
function assertion(input: SuccessResponseInput): Markup {
  return element(
    'saml:Assertion',
    {
      'xmlns:saml': NS.assertion,
      'xmlns:xs': NS.xs,
      'xmlns:xsi': NS.xsi,
      ID: assertId(input.assertionId),
      Version: '2.0',
      IssueInstant: isoSeconds(input.issueInstant),
    },
    [
      element('saml:Issuer', {}, [input.issuer]),
      subject(input),
      conditions(input),
      authnStatement(input),
      attributeStatement(input.attributes),
    ],
  );
}

function subject(input: SuccessResponseInput): Markup {
  return element('saml:Subject', {}, [
    element('saml:NameID', { Format: input.nameIdFormat }, [input.nameId]),
    element('saml:SubjectConfirmation', { Method: BEARER }, [
      element('saml:SubjectConfirmationData', {
        NotOnOrAfter: isoSeconds(input.notOnOrAfter),
        Recipient: input.destination,
        InResponseTo: input.inResponseTo,
        Address: input.subjectAddress,
      }),
    ]),
  ]);
}

function conditions(input: SuccessResponseInput): Markup {
  return element('saml:Conditions', { NotBefore: isoSeconds(input.notBefore), NotOnOrAfter: isoSeconds(input.notOnOrAfter) }, [
    element('saml:AudienceRestriction', {}, [element('saml:Audience', {}, [input.audience])]),
  ]);
}

function authnStatement(input: SuccessResponseInput): Markup {
  return element(
    'saml:AuthnStatement',
    {
      AuthnInstant: isoSeconds(input.authnInstant),
      SessionIndex: input.sessionIndex,
      SessionNotOnOrAfter: isoSeconds(input.sessionNotOnOrAfter),
    },
    [element('saml:AuthnContext', {}, [element('saml:AuthnContextClassRef', {}, [input.authnContextClassRef])])],
  );
}

/** The schema requires at least one Attribute, so no values at all means no statement. */
function attributeStatement(attributes: readonly SamlAttribute[]): Markup | undefined {
  const present = attributes.filter((attribute) => attribute.values.length > 0);
  if (present.length === 0) return undefined;
  return element('saml:AttributeStatement', {}, present.map(attributeElement));
}

function attributeElement(attribute: SamlAttribute): Markup {
  return element(
    'saml:Attribute',
    { Name: attribute.name, NameFormat: ATTRNAME_FORMAT_BASIC },
    attribute.values.map((value) => element('saml:AttributeValue', { 'xsi:type': 'xs:string' }, [value])),
  );
}
