import { randomUUID } from 'node:crypto';
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { parseSpMetadata } from '../../lib/saml/sp-metadata.js';
import { provisionAgent, startTestIdp, testKeyPair, type TestAgent, type TestIdp, type TestKeyPair } from './harness.js';

/**
 * An independent SP (@node-saml/node-saml) registered with the IdP from the
 * metadata it generates itself: it both consumes our assertions and proves
 * that real SP metadata registers.
 */
export interface NodeSamlSp {
  readonly entityId: string;
  readonly acsUrl: string;
  /** Validates every InResponseTo against the requests it sent. */
  readonly saml: SAML;
  /** For IdP-initiated Responses, which answer no request. */
  readonly unsolicited: SAML;
  readonly signingKeys: TestKeyPair | undefined;
  readonly metadataXml: string;
}

export async function registerNodeSamlSp(
  idp: TestIdp,
  options: { signRequests?: boolean; binding?: 'HTTP-Redirect' | 'HTTP-POST'; signResponse?: boolean } = {},
): Promise<NodeSamlSp> {
  const name = randomUUID().slice(0, 8);
  const entityId = `https://sp-${name}.example.test/saml`;
  const acsUrl = `https://sp-${name}.example.test/saml/acs`;
  const signingKeys = options.signRequests ? await testKeyPair(`sp-${name}`) : undefined;
  const make = (validateInResponseTo: ValidateInResponseTo) =>
    new SAML({
      entryPoint: `${idp.baseUrl}/saml/sso`,
      issuer: entityId,
      callbackUrl: acsUrl,
      idpCert: idp.signingCertificatePem,
      idpIssuer: `${idp.baseUrl}/saml/metadata`,
      audience: entityId,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: options.signResponse ?? true,
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      // Agents do not use passwords: node-saml's default PasswordProtectedTransport request would be a lie.
      disableRequestedAuthnContext: true,
      validateInResponseTo,
      authnRequestBinding: options.binding ?? 'HTTP-Redirect',
      // SAML bindings §3.5.4: HTTP-POST carries the request base64-encoded, not deflated (node-saml deflates by default).
      skipRequestCompression: options.binding === 'HTTP-POST',
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      ...(signingKeys ? { privateKey: signingKeys.keyPem, publicCert: signingKeys.certPem } : {}),
    });
  const saml = make(ValidateInResponseTo.always);
  const metadataXml = saml.generateServiceProviderMetadata(null, signingKeys?.certPem ?? null);
  const sp = parseSpMetadata(metadataXml, { signResponse: options.signResponse ?? true, now: new Date() });
  await idp.running.idp.store.serviceProviders.register(sp, false);
  return { entityId, acsUrl, saml, unsolicited: make(ValidateInResponseTo.never), signingKeys, metadataXml };
}

/** A fresh AuthnRequest from the SP, as the path+query (Redirect) or form fields (POST) an agent would carry. */
export async function redirectRequestPath(sp: NodeSamlSp, relayState = ''): Promise<string> {
  const url = new URL(await sp.saml.getAuthorizeUrlAsync(relayState, undefined, {}));
  return `${url.pathname}${url.search}`;
}

export async function postRequestFields(sp: NodeSamlSp, relayState = ''): Promise<Record<string, string>> {
  const form = await sp.saml.getAuthorizeFormAsync(relayState);
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[match[1]!] = decodeHtml(match[2]!);
  }
  if (!fields.SAMLRequest) throw new Error(`no SAMLRequest in node-saml form: ${form}`);
  return fields;
}

export function decodeHtml(text: string): string {
  return text.replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_m, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export type { Profile };

/** A fresh IdP with one provisioned agent and one registered node-saml SP: the usual start of a sign-on test. */
export async function startIdpWithAgentAndSp(spOptions: { signResponse: boolean }): Promise<{ idp: TestIdp; agent: TestAgent; sp: NodeSamlSp }> {
  const idp = await startTestIdp();
  const agent = await provisionAgent(idp);
  const sp = await registerNodeSamlSp(idp, spOptions);
  return { idp, agent, sp };
}
