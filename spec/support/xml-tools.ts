/*
 * Independent judges for the XML we produce: xmllint (libxml2) for schema
 * validity and xmlsec1 for signatures. Neither shares code with xml-crypto or
 * xmldom, so agreement means more than our own round trip.
 *
 * Debian packages: libxml2-utils (xmllint), xmlsec1, opensaml-schemas and
 * xmltooling-schemas (the XSDs under /usr/share/xml).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const OPENSAML_SCHEMAS = '/usr/share/xml/opensaml';
export const XMLTOOLING_SCHEMAS = '/usr/share/xml/xmltooling';

const SAML_SCHEMAS = {
  metadata: 'saml-schema-metadata-2.0.xsd',
  protocol: 'saml-schema-protocol-2.0.xsd',
  assertion: 'saml-schema-assertion-2.0.xsd',
} as const;
export type SamlSchema = keyof typeof SAML_SCHEMAS;

/** Elements whose ID attribute signature references point at. */
export const SAML_ID_ELEMENTS: readonly string[] = [
  'urn:oasis:names:tc:SAML:2.0:protocol:Response',
  'urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse',
  'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
  'urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor',
  'urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor',
];

export interface ToolResult {
  readonly ok: boolean;
  /** stdout and stderr together: what to show when an assertion fails. */
  readonly output: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: 15_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error && typeof error.code !== 'number') {
        reject(new Error(`could not run ${command} (${String(error.code ?? error.message)}): ${output}`));
        return;
      }
      resolve({ ok: error === null, output });
    });
  });
}

/** Runs `use` with the XML written to a file in a fresh temporary directory, removed afterwards. */
async function withFiles<T>(files: Readonly<Record<string, string>>, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-xml-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content, 'utf8');
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/*
 * The SAML XSDs import xmldsig, xenc and xml.xsd by their W3C http URLs. This
 * catalog points those URLs at the local copies so xmllint, run with --nonet,
 * never reaches for the network (and fails loudly if a mapping is missing).
 */
function catalogXml(): string {
  const local = (file: string): string => pathToFileURL(join(XMLTOOLING_SCHEMAS, file)).href;
  const mappings: ReadonlyArray<readonly [string, string]> = [
    ['http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd', local('xmldsig-core-schema.xsd')],
    ['http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd', local('xenc-schema.xsd')],
    ['http://www.w3.org/2001/xml.xsd', local('xml.xsd')],
  ];
  const entries = mappings.flatMap(([remote, file]) => [
    `  <uri name="${remote}" uri="${file}"/>`,
    `  <system systemId="${remote}" uri="${file}"/>`,
  ]);
  return [
    '<?xml version="1.0"?>',
    '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">',
    ...entries,
    '</catalog>',
    '',
  ].join('\n');
}

let catalogPath: string | undefined;

/** Path of the catalog file, written once per process into its own temporary directory. */
export function samlCatalogFile(): string {
  if (catalogPath !== undefined) return catalogPath;
  for (const dir of [OPENSAML_SCHEMAS, XMLTOOLING_SCHEMAS]) {
    if (!existsSync(dir)) throw new Error(`${dir} is missing: install the opensaml-schemas and xmltooling-schemas packages`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-catalog-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'catalog.xml');
  writeFileSync(path, catalogXml(), 'utf8');
  catalogPath = path;
  return path;
}

/** Validates a document against one of the OASIS SAML 2.0 schemas with xmllint, offline. */
export function validateAgainstSamlSchema(xml: string, schema: SamlSchema): Promise<ToolResult> {
  const env = { ...process.env, XML_CATALOG_FILES: samlCatalogFile() };
  return withFiles({ 'document.xml': xml }, (dir) =>
    run(
      'xmllint',
      ['--noout', '--nonet', '--schema', join(OPENSAML_SCHEMAS, SAML_SCHEMAS[schema]), join(dir, 'document.xml')],
      env,
    ),
  );
}

export interface Xmlsec1VerifyOptions {
  /**
   * Which ds:Signature to check. xmlsec1 otherwise checks the first one in
   * document order, which in a signed Response is the Response's.
   */
  readonly signatureXPath?: string;
  /** `namespace:LocalName` of elements whose `ID` attribute is an XML ID; defaults to the SAML ones. */
  readonly idElements?: readonly string[];
}

/**
 * Verifies one signature with xmlsec1, trusting only the given certificate:
 * key data other than a raw RSA key is disabled, so xmlsec1 cannot take the
 * key from the document's own KeyInfo.
 */
export function xmlsec1Verify(xml: string, certificatePem: string, options: Xmlsec1VerifyOptions = {}): Promise<ToolResult> {
  const idArgs = (options.idElements ?? SAML_ID_ELEMENTS).flatMap((name) => ['--id-attr:ID', name]);
  const nodeArgs = options.signatureXPath === undefined ? [] : ['--node-xpath', options.signatureXPath];
  return withFiles({ 'document.xml': xml, 'cert.pem': certificatePem }, (dir) =>
    run('xmlsec1', [
      '--verify',
      '--enabled-key-data',
      'rsa',
      '--enabled-reference-uris',
      'empty,same-doc',
      '--pubkey-cert-pem',
      join(dir, 'cert.pem'),
      ...idArgs,
      ...nodeArgs,
      join(dir, 'document.xml'),
    ]),
  );
}

/** XPath for xmlsec1's --node-xpath: the ds:Signature that is a direct child of the named element. */
export function signatureOf(localName: string): string {
  return `//*[local-name()='${localName}']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']`;
}
