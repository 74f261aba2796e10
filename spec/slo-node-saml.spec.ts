import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { SignedXml } from 'xml-crypto';
import { openTask, provisionAgent, testKeyPair, type TestAgent, type TestIdp, type TestKeyPair } from './support/harness.js';
import { decodeHtml } from './support/node-saml-sp.js';
import { createTestCa, metadataCertificates, registerSp, spMetadata, startSoapSp, startTrustingIdp, waitFor, type SoapSp, type TestCa } from './support/loopback-sp.js';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

interface FrontChannelSp {
  readonly entityId: string;
  readonly sloUrl: string;
  readonly keys: TestKeyPair;
  readonly saml: SAML;
}

/** A node-saml SP with signing keys and HTTP-Redirect/HTTP-POST SLO endpoints, registered from metadata. */
async function frontChannelSp(idp: TestIdp): Promise<FrontChannelSp> {
  const name = randomUUID().slice(0, 8);
  const entityId = `https://sp-${name}.example.test/saml`;
  const sloUrl = `https://sp-${name}.example.test/saml/slo`;
  const keys = await testKeyPair(`sp-${name}`);
  await registerSp(idp, spMetadata({ entityId, frontChannelSlo: sloUrl, signingCertificatePem: keys.certPem }));
  const saml = new SAML({
    entryPoint: `${idp.baseUrl}/saml/sso`,
    logoutUrl: `${idp.baseUrl}/saml/slo`,
    logoutCallbackUrl: sloUrl,
    issuer: entityId,
    callbackUrl: `https://sp-${name}.example.test/acs`,
    idpCert: idp.signingCertificatePem,
    idpIssuer: `${idp.baseUrl}/saml/metadata`,
    audience: entityId,
    privateKey: keys.keyPem,
    publicCert: keys.certPem,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    validateInResponseTo: ValidateInResponseTo.always,
    wantAuthnResponseSigned: true,
  });
  return { entityId, sloUrl, keys, saml };
}

/** IdP-initiated sign-on; returns the session as the SP sees it. */
async function signOn(idp: TestIdp, agent: TestAgent, entityId: string, taskId: string): Promise<{ sessionIndex: string }> {
  const response = await idp.request({
    path: `/saml/sso/initiate?sp=${encodeURIComponent(entityId)}`,
    headers: { accept: 'application/json', 'task-id': taskId },
    clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
  });
  assert.equal(response.status, 200, response.body);
  const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
  return { sessionIndex: /SessionIndex="([^"]+)"/.exec(xml)![1]! };
}

/** Signs a LogoutRequest for the HTTP-POST binding with xml-crypto directly: independent of the IdP's code. */
function signForPost(xml: string, keys: TestKeyPair): string {
  const signer = new SignedXml({
    privateKey: keys.keyPem,
    publicCert: keys.certPem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    idAttribute: 'ID',
  });
  signer.addReference({
    xpath: "/*[local-name()='LogoutRequest']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  signer.computeSignature(xml, { prefix: 'ds', location: { reference: "/*[local-name()='LogoutRequest']/*[local-name()='Issuer']", action: 'after' } });
  return signer.getSignedXml();
}

describe('SP-initiated Single Logout (HTTP-Redirect and HTTP-POST) with node-saml', function () {
  let ca: TestCa;
  let idp: TestIdp;
  let other: SoapSp;
  let certificates: string[] = [];

  before(async function () {
    ca = await createTestCa();
    idp = await startTrustingIdp({ trustedCa: ca.certificatePem });
    certificates = await metadataCertificates(idp);
    other = await startSoapSp(ca, () => certificates);
    await registerSp(idp, other.metadataXml());
  });
  after(async function () {
    await other.close();
    await idp.close();
  });

  it('HTTP-Redirect: ends the session, notifies the other SP of the task, and node-saml accepts the signed LogoutResponse', async function () {
    const sp = await frontChannelSp(idp);
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const here = await signOn(idp, agent, sp.entityId, taskId);
    const there = await signOn(idp, agent, other.entityId, taskId);
    const before = other.received.length;

    const url = new URL(await sp.saml.getLogoutUrlAsync({ issuer: sp.entityId, nameID: agent.userName, nameIDFormat: PERSISTENT, sessionIndex: here.sessionIndex }, 'relay-1', {}));
    const answer = await idp.request({ path: `${url.pathname}${url.search}`, headers: { accept: 'text/html' } });
    assert.equal(answer.status, 303, answer.body);
    const location = new URL(String(answer.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, sp.sloUrl);
    const query = Object.fromEntries(location.searchParams);
    assert.equal(query.RelayState, 'relay-1');
    const validated = await sp.saml.validateRedirectAsync(query, location.search.slice(1));
    assert.equal(validated.loggedOut, true);

    const sessions = await idp.running.idp.store.sessions.listLiveForAgent(agent.id, new Date());
    assert.deepEqual(sessions, [], 'both sessions of the task ended');
    await waitFor('the other SP’s LogoutRequest', () => (other.received.length === before + 1 ? true : undefined), 2_000);
    const notice = other.received.at(-1)!;
    assert.equal(notice.sessionIndex, there.sessionIndex);
    assert.equal(notice.signatureValid, true);
    assert.equal(notice.reason, 'urn:oasis:names:tc:SAML:2.0:logout:user');

    // The same request again is a replay: answered (the SP is known) with an error status node-saml refuses.
    const replay = await idp.request({ path: `${url.pathname}${url.search}`, headers: { accept: 'text/html' } });
    assert.equal(replay.status, 303);
    const replayLocation = new URL(String(replay.headers.location));
    await assert.rejects(sp.saml.validateRedirectAsync(Object.fromEntries(replayLocation.searchParams), replayLocation.search.slice(1)));
  });

  it('HTTP-POST: a signed LogoutRequest gets an auto-submitting form whose signed LogoutResponse node-saml accepts', async function () {
    const sp = await frontChannelSp(idp);
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const here = await signOn(idp, agent, sp.entityId, taskId);
    await signOn(idp, agent, other.entityId, taskId);
    const before = other.received.length;

    const xml = signForPost(await sp.saml._generateLogoutRequest({ issuer: sp.entityId, nameID: agent.userName, nameIDFormat: PERSISTENT, sessionIndex: here.sessionIndex }), sp.keys);
    const form = new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: 'relay-2' }).toString();
    const answer = await idp.request({ method: 'POST', path: '/saml/slo', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: form });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(decodeHtml(/action="([^"]+)"/.exec(answer.body)![1]!), sp.sloUrl);
    const samlResponse = decodeHtml(/name="SAMLResponse" value="([^"]+)"/.exec(answer.body)![1]!);
    const relayState = decodeHtml(/name="RelayState" value="([^"]+)"/.exec(answer.body)![1]!);
    assert.equal(relayState, 'relay-2');
    // node-saml's HTTP-POST path looks for InResponseTo on a Response element only, so it checks the
    // LogoutResponse's signature, issuer and status here, and this test checks InResponseTo itself.
    const postValidator = new SAML({ ...sp.saml.options, validateInResponseTo: ValidateInResponseTo.ifPresent });
    const validated = await postValidator.validatePostResponseAsync({ SAMLResponse: samlResponse });
    assert.equal(validated.loggedOut, true);
    const requestId = /ID="([^"]+)"/.exec(xml)![1]!;
    assert.equal(/InResponseTo="([^"]+)"/.exec(Buffer.from(samlResponse, 'base64').toString('utf8'))![1], requestId);
    const forged = Buffer.from(Buffer.from(samlResponse, 'base64').toString('utf8').replace('status:Success', 'status:Requester')).toString('base64');
    await assert.rejects(postValidator.validatePostResponseAsync({ SAMLResponse: forged }), 'node-saml checks the signature');
    assert.deepEqual(await idp.running.idp.store.sessions.listLiveForAgent(agent.id, new Date()), []);
    await waitFor('the other SP’s LogoutRequest', () => (other.received.length === before + 1 ? true : undefined), 2_000);
  });

  it('refuses unsigned and wrongly signed LogoutRequests without ending anything', async function () {
    const sp = await frontChannelSp(idp);
    const stranger = await testKeyPair('stranger');
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const here = await signOn(idp, agent, sp.entityId, taskId);
    const profile = { issuer: sp.entityId, nameID: agent.userName, nameIDFormat: PERSISTENT, sessionIndex: here.sessionIndex };

    const unsigned = await sp.saml._generateLogoutRequest(profile);
    const post = (xml: string) =>
      idp.request({
        method: 'POST',
        path: '/saml/slo',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ SAMLRequest: Buffer.from(xml).toString('base64') }).toString(),
      });
    const refusedUnsigned = await post(unsigned);
    assert.equal(refusedUnsigned.status, 403, refusedUnsigned.body);
    assert.equal(refusedUnsigned.json<{ error: string }>().error, 'saml_signature_required');
    const refusedForged = await post(signForPost(await sp.saml._generateLogoutRequest(profile), stranger));
    assert.equal(refusedForged.status, 403);
    assert.equal(refusedForged.json<{ error: string }>().error, 'saml_signature_invalid');
    const tampered = signForPost(await sp.saml._generateLogoutRequest(profile), sp.keys).replace(agent.userName, 'someone-else');
    assert.equal((await post(tampered)).status, 403);
    const unsignedRedirect = new URL(await sp.saml.getLogoutUrlAsync(profile, '', {}));
    unsignedRedirect.searchParams.delete('Signature');
    unsignedRedirect.searchParams.delete('SigAlg');
    const refusedRedirect = await idp.request({ path: `${unsignedRedirect.pathname}${unsignedRedirect.search}`, headers: { accept: 'application/json' } });
    assert.equal(refusedRedirect.status, 403, refusedRedirect.body);
    assert.equal((await idp.running.idp.store.sessions.listLiveForAgent(agent.id, new Date())).length, 1, 'the session is still live');
  });
});
