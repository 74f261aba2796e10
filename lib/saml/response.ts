import type { SigningKey } from '../keys/index.js';
import { isoSeconds } from '../common/clock.js';
import { NS } from './namespaces.js';
import { assertId } from './xml-builder.js';
import { qualified, signEnveloped } from './signing.js';
import { encryptAssertion } from './assertion-encryption.js';
import {
  OpaqueMarkup,
  renderCanonical,
  renderTemplate,
  SIGNATURE_SLOT,
  xmlElement as element,
  type CanonicalFragment,
  type RenderingTemplate,
  type TemplateBuild,
  type XmlElement as Markup,
} from './canonical-xml.js';
import { CanonicalSigningTemplate, signCanonical } from './canonical-signature.js';

/*
 * Response and Assertion, written in their exclusive-c14n form by the
 * canonical builder and signed over the bytes written (canonical-xml.ts,
 * canonical-signature.ts): no DOM on the sign-on path. Element order follows
 * the schema's sequences; SPs that validate reject anything else.
 *
 * Namespaces: the Response declares samlp and saml (c14n then renders saml on
 * the Issuer, the only child that uses it); the Assertion declares its own
 * saml, xs and xsi, so it stands alone once extracted (by an SP after
 * verifying it, or for encryption). xsi is rendered on each AttributeValue,
 * where xsi:type uses it; xs, used only inside xsi:type's value, is rendered
 * on the Assertion because both signatures name it in their PrefixList.
 */

/** Prefixes the exclusive-c14n transforms keep although only attribute values use them. */
const INCLUSIVE_PREFIXES: readonly string[] = ['xs'];

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
  /** The SP's encryption certificate (RSA): when present the signed Assertion is sent encrypted. */
  readonly encryptionCertificatePem?: string | undefined;
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

/** A Response carrying one signed Assertion; the Response is signed around it when asked. */
export function buildSuccessResponse(input: SuccessResponseInput, key: SigningKey): string {
  if (input.encryptionCertificatePem !== undefined) return buildEncryptedSuccessResponse(input, input.encryptionCertificatePem, key);
  // The Assertion first: the Response's digest must cover the Assertion's signature.
  const signed = signedAssertion(assertionText(input), key);
  return successResponse(input, signed, key);
}

/**
 * The Assertion is signed as usual, then encrypted; the Response is built (and signed, unless
 * the SP opted out) around the EncryptedAssertion: the SP verifies the Response, decrypts, then
 * verifies the Assertion's own signature.
 */
function buildEncryptedSuccessResponse(input: SuccessResponseInput, certificatePem: string, key: SigningKey): string {
  const signed = signedAssertion(assertionText(input), key);
  const encrypted = encryptAssertion({ signedAssertionXml: signed.toString(), certificatePem, recipient: input.audience });
  return responseDocument(input, status(STATUS.success, undefined, undefined), new OpaqueMarkup(encrypted), input.signResponse, key);
}

/** A signed Response with a status and no assertion: what an SP gets when sign-on is refused. */
export function buildErrorResponse(input: ErrorResponseInput, key: SigningKey): string {
  return responseDocument(input, status(input.topStatus, input.secondStatus, input.statusMessage), undefined, true, key);
}

/**
 * The Response around its (signed or encrypted) assertion, signed when asked.
 * Opaque markup (an EncryptedAssertion written by another library) is not
 * canonical by construction: such a Response is signed the DOM way.
 */
function responseDocument(
  header: ResponseHeader,
  statusElement: Markup,
  carried: CanonicalFragment | OpaqueMarkup | undefined,
  signed: boolean,
  key: SigningKey,
): string {
  const fast = !(carried instanceof OpaqueMarkup);
  const document = response(responseText(header), statusElement, carried, signed && fast);
  if (signed && fast) return signCanonical(document, key, { inclusivePrefixes: INCLUSIVE_PREFIXES }).toString();
  const xml = renderCanonical(document, INCLUSIVE_PREFIXES).xml;
  return signed ? signEnveloped(xml, { element: RESPONSE_XPATH, after: `${RESPONSE_XPATH}/${qualified(NS.assertion, 'Issuer')}` }, key) : xml;
}

interface ResponseHeader {
  readonly issuer: string;
  readonly destination: string;
  readonly inResponseTo: string | undefined;
  readonly responseId: string;
  readonly issueInstant: Date;
}

/** The Response's values as written: what a template is filled with. */
interface ResponseText {
  readonly id: string;
  readonly issueInstant: string;
  readonly destination: string;
  readonly inResponseTo: string | undefined;
  readonly issuer: string;
}

function responseText(header: ResponseHeader): ResponseText {
  return {
    id: assertId(header.responseId),
    issueInstant: isoSeconds(header.issueInstant),
    destination: header.destination,
    inResponseTo: header.inResponseTo,
    issuer: header.issuer,
  };
}

/** Every value of `text` through `f`, in one fixed order; the ID is value 0 (as mapText for the Assertion). */
function mapResponseText(text: ResponseText, f: (value: string, index: number) => string): ResponseText {
  let index = 0;
  const each = (value: string): string => f(value, index++);
  return {
    id: each(text.id),
    issueInstant: each(text.issueInstant),
    destination: each(text.destination),
    inResponseTo: text.inResponseTo === undefined ? undefined : each(text.inResponseTo),
    issuer: each(text.issuer),
  };
}

function response(
  text: ResponseText,
  statusElement: Markup,
  assertionElement: CanonicalFragment | OpaqueMarkup | undefined,
  withSignatureSlot: boolean,
): Markup {
  return element(
    'samlp:Response',
    {
      ID: text.id,
      Version: '2.0',
      IssueInstant: text.issueInstant,
      Destination: text.destination,
      InResponseTo: text.inResponseTo,
    },
    [
      element('saml:Issuer', {}, [text.issuer]),
      withSignatureSlot ? SIGNATURE_SLOT : undefined,
      statusElement,
      assertionElement,
    ],
    { samlp: NS.protocol, saml: NS.assertion },
  );
}

/*
 * Templates by shape. Shapes are few (which optional values are present, how many
 * values each attribute has); past the limit an unusual shape is rendered the
 * general way, so no input can grow a cache.
 */
const TEMPLATE_LIMIT = 256;

/** The template compiled for `shape`, compiled on first use; undefined for a new shape once the cache is full. */
function cachedTemplate<T>(cache: Map<string, T>, shape: string, compile: () => T): T | undefined {
  let template = cache.get(shape);
  if (template === undefined && cache.size < TEMPLATE_LIMIT) {
    template = compile();
    cache.set(shape, template);
  }
  return template;
}

/*
 * The success Response around a signed Assertion is filled into a template too
 * (signed or not, with or without InResponseTo, per shape of the Assertion it
 * carries): what responseDocument writes for it, byte for byte.
 */
const responseTemplates = new Map<string, RenderingTemplate | CanonicalSigningTemplate>();

function successResponse(input: SuccessResponseInput, assertionFragment: CanonicalFragment, key: SigningKey): string {
  const text = responseText(input);
  const shape = `${text.inResponseTo === undefined ? '-' : 'r'}${input.signResponse ? 's' : '-'}${assertionFragment.shape}`;
  const template = cachedTemplate(responseTemplates, shape, () => {
    const count = valueList(text, mapResponseText).length;
    const build: TemplateBuild = (value, fragment) =>
      response(
        mapResponseText(text, (_written, index) => value(index)),
        status(STATUS.success, undefined, undefined),
        fragment(0, assertionFragment),
        input.signResponse,
      );
    return input.signResponse
      ? new CanonicalSigningTemplate(build, count, 0, { inclusivePrefixes: INCLUSIVE_PREFIXES })
      : renderTemplate(build, count, INCLUSIVE_PREFIXES);
  });
  if (template === undefined) return responseDocument(input, status(STATUS.success, undefined, undefined), assertionFragment, input.signResponse, key);
  const values = valueList(text, mapResponseText);
  return template instanceof CanonicalSigningTemplate
    ? template.sign(values, key, [assertionFragment]).toString()
    : template.fill(values, [assertionFragment]).xml;
}

function status(top: string, second: string | undefined, message: string | undefined): Markup {
  const secondCode = second === undefined ? undefined : element('samlp:StatusCode', { Value: second });
  return element('samlp:Status', {}, [
    element('samlp:StatusCode', { Value: top }, [secondCode]),
    message === undefined ? undefined : element('samlp:StatusMessage', {}, [message]),
  ]);
}

/** The Assertion's values as written (times formatted, attributes without values left out): what a template is filled with. */
interface AssertionText {
  readonly id: string;
  readonly issueInstant: string;
  readonly issuer: string;
  readonly nameIdFormat: string;
  readonly nameId: string;
  readonly notOnOrAfter: string;
  readonly recipient: string;
  readonly inResponseTo: string | undefined;
  readonly address: string | undefined;
  readonly notBefore: string;
  readonly audience: string;
  readonly authnInstant: string;
  readonly sessionIndex: string;
  readonly sessionNotOnOrAfter: string;
  readonly authnContextClassRef: string;
  readonly attributes: readonly SamlAttribute[];
}

function assertionText(input: SuccessResponseInput): AssertionText {
  return {
    id: assertId(input.assertionId),
    issueInstant: isoSeconds(input.issueInstant),
    issuer: input.issuer,
    nameIdFormat: input.nameIdFormat,
    nameId: input.nameId,
    notOnOrAfter: isoSeconds(input.notOnOrAfter),
    recipient: input.destination,
    inResponseTo: input.inResponseTo,
    address: input.subjectAddress,
    notBefore: isoSeconds(input.notBefore),
    audience: input.audience,
    authnInstant: isoSeconds(input.authnInstant),
    sessionIndex: input.sessionIndex,
    sessionNotOnOrAfter: isoSeconds(input.sessionNotOnOrAfter),
    authnContextClassRef: input.authnContextClassRef,
    // The schema requires at least one Attribute, so no values at all means no statement.
    attributes: input.attributes.filter((attribute) => attribute.values.length > 0),
  };
}

/**
 * Every value of `text` through `f`, in one fixed order (the order of a
 * template's values); the ID is value 0. Optional values left out stay out.
 */
function mapText(text: AssertionText, f: (value: string, index: number) => string): AssertionText {
  let index = 0;
  const each = (value: string): string => f(value, index++);
  const optional = (value: string | undefined): string | undefined => (value === undefined ? undefined : each(value));
  return {
    id: each(text.id),
    issueInstant: each(text.issueInstant),
    issuer: each(text.issuer),
    nameIdFormat: each(text.nameIdFormat),
    nameId: each(text.nameId),
    notOnOrAfter: each(text.notOnOrAfter),
    recipient: each(text.recipient),
    inResponseTo: optional(text.inResponseTo),
    address: optional(text.address),
    notBefore: each(text.notBefore),
    audience: each(text.audience),
    authnInstant: each(text.authnInstant),
    sessionIndex: each(text.sessionIndex),
    sessionNotOnOrAfter: each(text.sessionNotOnOrAfter),
    authnContextClassRef: each(text.authnContextClassRef),
    attributes: text.attributes.map((attribute) => ({ name: each(attribute.name), values: attribute.values.map(each) })),
  };
}

/** The values `map` visits, in its order: what a template of `text`'s shape is filled with. */
function valueList<T>(text: T, map: (text: T, f: (value: string, index: number) => string) => T): string[] {
  const values: string[] = [];
  map(text, (value) => (values.push(value), value));
  return values;
}

/** What decides an Assertion's shape: which optional values are present, and how many values each attribute has. */
function shapeOf(text: AssertionText): string {
  return `${text.inResponseTo === undefined ? '-' : 'r'}${text.address === undefined ? '-' : 'a'}${text.attributes.map((attribute) => attribute.values.length).join(',')}`;
}

/*
 * Signed Assertions are filled into templates compiled once per shape
 * (canonical-signature.ts CanonicalSigningTemplate): rendering the ~40
 * elements of an Assertion, its SignedInfo and Signature cost ~45 µs a
 * sign-on, filling them a few (cachedTemplate).
 */
const assertionTemplates = new Map<string, CanonicalSigningTemplate>();

function signedAssertion(text: AssertionText, key: SigningKey): CanonicalFragment {
  const template = cachedTemplate(
    assertionTemplates,
    shapeOf(text),
    () =>
      new CanonicalSigningTemplate((value) => assertion(mapText(text, (_written, index) => value(index))), valueList(text, mapText).length, 0, {
        inclusivePrefixes: INCLUSIVE_PREFIXES,
      }),
  );
  if (template === undefined) return signCanonical(assertion(text), key, { inclusivePrefixes: INCLUSIVE_PREFIXES });
  return template.sign(valueList(text, mapText), key);
}

/** The Assertion, its signature slot right after its Issuer as the schema requires. */
function assertion(text: AssertionText): Markup {
  return element(
    'saml:Assertion',
    { ID: text.id, Version: '2.0', IssueInstant: text.issueInstant },
    [
      element('saml:Issuer', {}, [text.issuer]),
      SIGNATURE_SLOT,
      subject(text),
      conditions(text),
      authnStatement(text),
      attributeStatement(text.attributes),
    ],
    { saml: NS.assertion, xs: NS.xs, xsi: NS.xsi },
  );
}

function subject(text: AssertionText): Markup {
  return element('saml:Subject', {}, [
    element('saml:NameID', { Format: text.nameIdFormat }, [text.nameId]),
    element('saml:SubjectConfirmation', { Method: BEARER }, [
      element('saml:SubjectConfirmationData', {
        NotOnOrAfter: text.notOnOrAfter,
        Recipient: text.recipient,
        InResponseTo: text.inResponseTo,
        Address: text.address,
      }),
    ]),
  ]);
}

function conditions(text: AssertionText): Markup {
  return element('saml:Conditions', { NotBefore: text.notBefore, NotOnOrAfter: text.notOnOrAfter }, [
    element('saml:AudienceRestriction', {}, [element('saml:Audience', {}, [text.audience])]),
  ]);
}

function authnStatement(text: AssertionText): Markup {
  return element(
    'saml:AuthnStatement',
    { AuthnInstant: text.authnInstant, SessionIndex: text.sessionIndex, SessionNotOnOrAfter: text.sessionNotOnOrAfter },
    [element('saml:AuthnContext', {}, [element('saml:AuthnContextClassRef', {}, [text.authnContextClassRef])])],
  );
}

/** Attributes with values only (assertionText): none means no statement. */
function attributeStatement(attributes: readonly SamlAttribute[]): Markup | undefined {
  if (attributes.length === 0) return undefined;
  return element('saml:AttributeStatement', {}, attributes.map(attributeElement));
}

function attributeElement(attribute: SamlAttribute): Markup {
  return element(
    'saml:Attribute',
    { Name: attribute.name, NameFormat: ATTRNAME_FORMAT_BASIC },
    attribute.values.map((value) => element('saml:AttributeValue', { 'xsi:type': 'xs:string' }, [value])),
  );
}
