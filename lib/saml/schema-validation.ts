/**
 * Validation of inbound SAML messages against the OASIS SAML 2.0 schemas (lib/saml/schemas),
 * in-process and offline, with libxml2 compiled to WebAssembly. A message that passes has the
 * shape the standard gives it: no unexpected elements where code might look for them, IDs that
 * are unique xs:IDs, dates that are xs:dateTimes, one Issuer where one is allowed.
 *
 * Callers run parseSafeXml first (size, depth, DOCTYPE, entities, processing instructions);
 * this module refuses DOCTYPE and ENTITY again so it is never the first parser of a hostile
 * document, and its parser has the network and external entities off.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ParseOption,
  XmlBufferInputProvider,
  XmlDocument,
  XmlLibError,
  XsdValidator,
  xmlCleanupInputProvider,
  xmlRegisterInputProvider,
} from 'libxml2-wasm';
import { TesseraError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';
import { NS } from './namespaces.js';

export const SOAP_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';

/** The inbound messages Tessera accepts, each by the root element it must have. */
export const SAML_MESSAGE_KINDS = {
  AuthnRequest: { namespace: NS.protocol, localName: 'AuthnRequest', label: 'samlp:AuthnRequest' },
  LogoutRequest: { namespace: NS.protocol, localName: 'LogoutRequest', label: 'samlp:LogoutRequest' },
  LogoutResponse: { namespace: NS.protocol, localName: 'LogoutResponse', label: 'samlp:LogoutResponse' },
  /** SAML SOAP binding: the message in the Body is validated too (the envelope schema is lax there). */
  SoapEnvelope: { namespace: SOAP_ENVELOPE_NAMESPACE, localName: 'Envelope', label: 'SOAP-ENV:Envelope' },
  SpMetadata: { namespace: NS.metadata, localName: 'EntityDescriptor', label: 'md:EntityDescriptor' },
} as const;
export type SamlMessageKind = keyof typeof SAML_MESSAGE_KINDS;

const SCHEMA_DIRECTORY = fileURLToPath(new URL('../../../lib/saml/schemas/', import.meta.url));

/**
 * Schema files by every name an import may use for them: the SAML schemas import the W3C
 * ones by their W3C URLs, which are answered from the local copies.
 */
const SCHEMA_FILES: ReadonlyArray<readonly [file: string, aliases: readonly string[]]> = [
  ['saml-schema-protocol-2.0.xsd', []],
  ['saml-schema-assertion-2.0.xsd', []],
  ['saml-schema-metadata-2.0.xsd', []],
  ['soap-envelope.xsd', []],
  ['xmldsig-core-schema.xsd', ['http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd']],
  ['xenc-schema.xsd', ['http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd']],
  ['xml.xsd', ['http://www.w3.org/2001/xml.xsd']],
];

/** One schema document importing every namespace a message may use, so one compiled set serves all kinds. */
const DRIVER_SCHEMA = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:tessera:schema-driver">
  <xs:import namespace="${NS.protocol}" schemaLocation="saml-schema-protocol-2.0.xsd"/>
  <xs:import namespace="${NS.metadata}" schemaLocation="saml-schema-metadata-2.0.xsd"/>
  <xs:import namespace="${SOAP_ENVELOPE_NAMESPACE}" schemaLocation="soap-envelope.xsd"/>
</xs:schema>`;

/** Network off, external entities off, no DTD loading or entity substitution (those options are simply not set). */
const PARSE_OPTIONS = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE;

/*
 * The compiled schemas are immutable and cost ~0.2 s to build, so they are built once per
 * process on first use and shared, like a compiled regular expression. libxml2's input
 * providers are process-wide; the one serving the schema files is registered only while
 * compiling and removed straight after, so no instance document can read through it.
 */
let compiled: XsdValidator | undefined;

function schemaValidator(): XsdValidator {
  if (compiled !== undefined) return compiled;
  const buffers: Record<string, Uint8Array> = {};
  for (const [file, aliases] of SCHEMA_FILES) {
    const content = readFileSync(`${SCHEMA_DIRECTORY}${file}`);
    for (const name of [file, ...aliases]) buffers[name] = content;
  }
  xmlRegisterInputProvider(new XmlBufferInputProvider(buffers));
  try {
    const driver = XmlDocument.fromString(DRIVER_SCHEMA, { url: 'tessera-driver.xsd', option: PARSE_OPTIONS });
    try {
      compiled = XsdValidator.fromDoc(driver);
    } finally {
      driver.dispose();
    }
  } finally {
    xmlCleanupInputProvider();
  }
  return compiled;
}

/** Compiles the schemas now (at start-up) rather than on the first message. */
export function prepareSchemaValidation(): void {
  schemaValidator();
}

function defaultErrorCode(kind: SamlMessageKind): ErrorCode {
  return kind === 'SpMetadata' ? 'sp_metadata_invalid' : 'saml_malformed_request';
}

/**
 * Validates one inbound message against the SAML 2.0 schemas and checks that its root is the
 * element `kind` names. Pass XML that parseSafeXml has accepted.
 * @param errorCode what a refusal is reported as; by default sp_metadata_invalid for metadata
 *   and saml_malformed_request for protocol messages
 * @throws TesseraError(errorCode) naming the first schema violation
 */
export function validateSamlMessage(xml: string, kind: SamlMessageKind, errorCode: ErrorCode = defaultErrorCode(kind)): void {
  const expected = SAML_MESSAGE_KINDS[kind];
  const subject = kind === 'SpMetadata' ? 'metadata' : `the ${kind}`;
  const refuse = (problem: string): never => {
    throw new TesseraError(errorCode, `${subject} ${problem}`);
  };
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) refuse('contains a DTD');
  const validator = schemaValidator();
  let document: XmlDocument;
  try {
    document = XmlDocument.fromString(xml, { option: PARSE_OPTIONS });
  } catch (error) {
    return refuse(`is not well-formed XML (${firstDetail(error)})`);
  }
  try {
    const root = document.root;
    if (root.namespaceUri !== expected.namespace || root.name !== expected.localName) {
      refuse(`has root element {${root.namespaceUri}}${root.name}, not ${expected.label}`);
    }
    validator.validate(document);
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    if (!(error instanceof XmlLibError)) throw error;
    refuse(`does not conform to the SAML 2.0 schema: ${firstDetail(error)}`);
  } finally {
    document.dispose();
  }
}

/** libxml2's first message, on one line and bounded: it names the element and what was expected. */
function firstDetail(error: unknown): string {
  const message = error instanceof XmlLibError ? (error.details[0]?.message ?? error.message) : String(error);
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
