import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { SigningKey } from '../lib/keys/index.js';
import { certificateBody, generateSelfSigned } from '../lib/keys/index.js';
import { buildLogoutRequest } from '../lib/saml/logout-request.js';
import { postLogoutResponse, readSoapLogoutResponse, redirectLogoutResponseUrl } from '../lib/saml/logout-response.js';
import { soapEnvelope } from '../lib/saml/soap.js';
import { validateAgainstSamlSchema, xmlsec1Verify } from './support/xml-tools.js';

describe('logout messages: schema-valid and signed as independent tools verify them', function () {
  let key: SigningKey;

  before(async function () {
    const generated = await generateSelfSigned({ commonName: 'logout-test', validDays: 1, now: new Date() });
    key = {
      id: 'test',
      privateKey: createPrivateKey(generated.privateKeyPem),
      privateKeyPem: generated.privateKeyPem,
      certificatePem: generated.certificatePem,
      certificateBase64: certificateBody(generated.certificatePem),
    };
  });

  const input = {
    id: '_logout1',
    issuer: 'https://idp.example.test/saml/metadata',
    destination: 'https://sp.example.test/slo',
    issueInstant: new Date('2026-11-29T10:00:00Z'),
    notOnOrAfter: new Date('2026-11-29T10:05:00Z'),
    reason: 'urn:oasis:names:tc:SAML:2.0:logout:admin',
    nameId: 'agent <&> "7"',
    nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    sessionIndex: '_session1',
  };

  it('a back-channel LogoutRequest validates against the OASIS protocol schema and xmlsec1 verifies its signature', async function () {
    const xml = buildLogoutRequest(input, key);
    const schema = await validateAgainstSamlSchema(xml, 'protocol');
    assert.ok(schema.ok, schema.output);
    const signature = await xmlsec1Verify(xml, key.certificatePem);
    assert.ok(signature.ok, signature.output);
    assert.ok(!(await xmlsec1Verify(xml.replace('_session1', '_session2'), key.certificatePem)).ok, 'a changed SessionIndex breaks the signature');
    assert.match(soapEnvelope(xml), /^<soap11:Envelope xmlns:soap11="http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\/"><soap11:Body><samlp:LogoutRequest/);
  });

  it('a LogoutResponse for HTTP-POST is schema-valid and signed; for HTTP-Redirect it is deflated and signed in the query', async function () {
    const response = { id: '_resp1', inResponseTo: '_req1', issuer: input.issuer, destination: input.destination, issueInstant: input.issueInstant, topStatus: 'urn:oasis:names:tc:SAML:2.0:status:Success', secondStatus: undefined, statusMessage: undefined };
    const posted = Buffer.from(postLogoutResponse(response, key), 'base64').toString('utf8');
    assert.ok((await validateAgainstSamlSchema(posted, 'protocol')).ok);
    const verified = await xmlsec1Verify(posted, key.certificatePem);
    assert.ok(verified.ok, verified.output);
    const url = new URL(redirectLogoutResponseUrl(response, 'state', key));
    const inflated = inflateRawSync(Buffer.from(url.searchParams.get('SAMLResponse')!, 'base64')).toString('utf8');
    assert.ok((await validateAgainstSamlSchema(inflated, 'protocol')).ok);
    assert.equal(url.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    assert.ok(url.searchParams.get('Signature'));
  });

  it('reads an SP’s SOAP answer, and refuses anything that is not one', function () {
    const answer = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-11-29T10:00:00Z" InResponseTo="_logout1"><saml:Issuer>https://sp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:PartialLogout"/></samlp:StatusCode></samlp:Status></samlp:LogoutResponse></s:Body></s:Envelope>`;
    assert.deepEqual(readSoapLogoutResponse(answer, 65_536), {
      inResponseTo: '_logout1',
      issuer: 'https://sp',
      status: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
      secondStatus: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout',
    });
    assert.throws(() => readSoapLogoutResponse('<html>Service Unavailable</html>', 65_536));
    assert.throws(() => readSoapLogoutResponse(`<!DOCTYPE x [<!ENTITY a "b">]>${answer}`, 65_536));
    assert.throws(() => readSoapLogoutResponse(answer, 100));
  });
});
