import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import {
  openTask,
  orchestratorHeaders,
  provisionAgent,
  startTestIdp,
  type HttpResult,
  type TestAgent,
  type TestIdp,
} from './support/harness.js';
import { postRequestFields, redirectRequestPath, registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * Property-based fuzzing of every inbound endpoint over HTTPS: genuine messages from an
 * independent SP (node-saml), mutated thousands of times in the ways attackers and broken
 * clients mutate them. Whatever arrives: never a 5xx, never a crash, never an assertion.
 *
 * The agent presents a valid client certificate but names a task that has ended, so no
 * mutation can legitimately end in a sign-on: every message runs the whole intake (decode,
 * schema, signature, protocol checks, agent authentication) and is then refused.
 */

const RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 700);
const SEED = process.env.TESSERA_FUZZ_SEED === undefined ? undefined : Number(process.env.TESSERA_FUZZ_SEED);

/** Fragments that break parsers, signatures and escaping when they land in the wrong place. */
const HOSTILE = [
  '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', '<!ENTITY x "y">', '&x;', '&lt;', '&#0;', '&#x1F;', '&#xD800;',
  '<!--', '-->', '<![CDATA[', ']]>', '<?pi x?>', '<?xml version="1.0"?>', '</samlp:AuthnRequest>', '<samlp:AuthnRequest>',
  '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>', '<saml:Issuer>https://evil.example</saml:Issuer>',
  ' ID="_dup"', ' xmlns:samlp="urn:evil"', ' xmlns=""', '"', "'", '<', '>', '&', '\u0000', '\uFFFE', '\uD800', '\u2028', '\u0085',
  'é', '𝕏', '\r\n', '\t', ' '.repeat(64), 'A'.repeat(4096), '%', '%ZZ', '%00', '+', '=', '&SAMLRequest=', '&RelayState=',
  '&SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1', '&Signature=AAAA',
];

type Edit =
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number }
  | { readonly kind: 'replace'; readonly at: number; readonly text: string };

const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);
/** Where an edit lands, taken modulo the length of the text it edits. */
const position = fc.nat({ max: 1 << 20 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: position, text }).map((e) => e),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }).map((e) => e),
  fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 256 }) }).map((e) => e),
  fc.record({ kind: fc.constant('replace' as const), at: position, text }).map((e) => e),
) as fc.Arbitrary<Edit>;
const edits = fc.array(edit, { minLength: 1, maxLength: 4 });

function applyEdits(input: string, changes: readonly Edit[]): string {
  let output = input;
  for (const change of changes) {
    const at = change.at % (output.length + 1);
    switch (change.kind) {
      case 'insert':
        output = output.slice(0, at) + change.text + output.slice(at);
        break;
      case 'delete':
        output = output.slice(0, at) + output.slice(at + change.length);
        break;
      case 'duplicate':
        output = output.slice(0, at + change.length) + output.slice(at, at + change.length) + output.slice(at + change.length);
        break;
      case 'replace':
        output = output.slice(0, at) + change.text + output.slice(at + change.text.length);
        break;
    }
  }
  return output;
}

/** Percent-encodes every UTF-8 byte (lone surrogates become U+FFFD, as a browser would send them). */
function percent(value: string): string {
  return Array.from(Buffer.from(value, 'utf8'), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** Encodings a message may arrive in, broken or not. */
type Encoding = 'deflate' | 'plain' | 'raw-text';
function encode(xml: string, encoding: Encoding): string {
  if (encoding === 'raw-text') return xml;
  const bytes = Buffer.from(xml, 'utf8');
  return (encoding === 'deflate' ? deflateRawSync(bytes) : bytes).toString('base64');
}

describe('fuzzing the inbound endpoints (fast-check): never a 5xx, a crash or an assertion', function () {
  this.timeout(300_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let postSp: NodeSamlSp;
  let endedTask: string;
  let redirectSeed: { xml: string; query: string };
  let postSeed: { xml: string; relayState: string };
  let requests = 0;

  before(async function () {
    idp = await startTestIdp();
    agent = await provisionAgent(idp);
    sp = await registerNodeSamlSp(idp, { signRequests: true, binding: 'HTTP-Redirect' });
    postSp = await registerNodeSamlSp(idp, { signRequests: true, binding: 'HTTP-POST' });
    endedTask = await openTask(idp, { agent: agent.userName });
    const ended = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${endedTask}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'CANCELLED' }),
    });
    assert.equal(ended.status, 200, ended.body);
    const path = await redirectRequestPath(sp, 'relay');
    const query = path.slice(path.indexOf('?') + 1);
    const samlRequest = decodeURIComponent(/SAMLRequest=([^&]+)/.exec(query)?.[1] ?? '');
    const { inflateRawSync } = await import('node:zlib');
    redirectSeed = { xml: inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8'), query };
    const fields = await postRequestFields(postSp, 'relay');
    postSeed = { xml: Buffer.from(fields.SAMLRequest ?? '', 'base64').toString('utf8'), relayState: fields.RelayState ?? 'relay' };
  });

  after(async function () {
    if (idp === undefined) return;
    const health = await idp.request({ path: '/healthz' });
    assert.equal(health.status, 200, 'the server still answers after the fuzzing');
    const issued = idp.logLines.filter((line) => line.includes('"event":"audit.signon.issued"'));
    assert.deepEqual(issued, [], 'no sign-on was ever issued');
    const internal = idp.logLines.filter((line) => line.includes('"level":"error"'));
    assert.deepEqual(internal, [], 'no internal error was logged');
    console.log(`      ${requests} fuzzed requests`);
    await idp.close();
  });

  const credential = () => ({ clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem } });
  const headers = () => ({ accept: 'application/json', 'task-id': endedTask });

  function assertRefused(response: HttpResult, what: string): void {
    requests += 1;
    assert.ok(response.status >= 400 && response.status < 500, `${what}: HTTP ${response.status} ${response.body.slice(0, 300)}`);
    assert.doesNotMatch(response.body, /<saml:Assertion|EncryptedAssertion/);
    const samlResponse = /"SAMLResponse":"([^"]+)"/.exec(response.body)?.[1];
    if (samlResponse !== undefined) {
      assert.doesNotMatch(Buffer.from(samlResponse, 'base64').toString('utf8'), /Assertion[\s>]/, `${what}: an assertion was issued`);
    }
  }

  const property = <T>(arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, runs = RUNS) =>
    fc.assert(fc.asyncProperty(arbitrary, check), { numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true });

  it('GET /saml/sso: mutated HTTP-Redirect requests (XML, encoding and query)', async function () {
    await property(
      fc.tuple(edits, fc.constantFrom<Encoding>('deflate', 'deflate', 'plain', 'raw-text'), fc.boolean(), fc.option(edits, { nil: undefined })),
      async ([xmlEdits, encoding, keepSignature, queryEdits]) => {
        const samlRequest = percent(encode(applyEdits(redirectSeed.xml, xmlEdits), encoding));
        const signature = keepSignature ? redirectSeed.query.replace(/^SAMLRequest=[^&]*/, '') : '';
        const query = applyEdits(`SAMLRequest=${samlRequest}${signature}`, queryEdits ?? []);
        // Keep the request line parseable: raw control characters and spaces are the HTTP parser's business, not ours.
        const safeQuery = query.replace(/[^\x21-\x7e]/g, (character) => percent(character));
        assertRefused(await idp.request({ path: `/saml/sso?${safeQuery}`, headers: headers(), ...credential() }), `GET ?${safeQuery.slice(0, 200)}`);
      },
    );
  });

  it('POST /saml/sso: mutated HTTP-POST requests (XML, base64 and form)', async function () {
    await property(
      fc.tuple(edits, fc.constantFrom<Encoding>('plain', 'plain', 'deflate', 'raw-text'), fc.option(edits, { nil: undefined }), fc.option(text, { nil: undefined })),
      async ([xmlEdits, encoding, formEdits, relayState]) => {
        const fields = new URLSearchParams({ SAMLRequest: encode(applyEdits(postSeed.xml, xmlEdits), encoding) });
        if (relayState !== undefined) fields.set('RelayState', relayState);
        const body = applyEdits(fields.toString(), formEdits ?? []);
        const response = await idp.request({
          method: 'POST',
          path: '/saml/sso',
          headers: { ...headers(), 'content-type': 'application/x-www-form-urlencoded' },
          body,
          ...credential(),
        });
        assertRefused(response, `POST ${body.slice(0, 200)}`);
      },
    );
  });

  it('GET /saml/sso/initiate: hostile sp and RelayState values', async function () {
    await property(
      fc.tuple(fc.oneof(fc.constant(sp.entityId), text, fc.string()), fc.option(fc.oneof(text, fc.string({ maxLength: 120 })), { nil: undefined }), fc.boolean()),
      async ([spId, relayState, repeat]) => {
        const query = `sp=${percent(spId)}` + (relayState === undefined ? '' : `&RelayState=${percent(relayState)}`) + (repeat ? `&sp=${percent(spId)}` : '');
        assertRefused(await idp.request({ path: `/saml/sso/initiate?${query}`, headers: headers(), ...credential() }), `initiate ?${query.slice(0, 200)}`);
      },
      Math.ceil(RUNS / 3),
    );
  });

  it('GET|POST /saml/slo, once it exists: mutated LogoutRequests', async function () {
    const probe = await idp.request({ path: '/saml/slo' });
    if (probe.status === 404) this.skip();
    const logoutRequest =
      `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" ` +
      `IssueInstant="${new Date().toISOString()}" Destination="${idp.baseUrl}/saml/slo"><saml:Issuer>${sp.entityId}</saml:Issuer>` +
      `<saml:NameID>${agent.userName}</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>`;
    await property(
      fc.tuple(edits, fc.constantFrom<Encoding>('deflate', 'plain', 'raw-text'), fc.boolean()),
      async ([xmlEdits, encoding, viaPost]) => {
        const samlRequest = encode(applyEdits(logoutRequest, xmlEdits), encoding);
        const response = viaPost
          ? await idp.request({
              method: 'POST',
              path: '/saml/slo',
              headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({ SAMLRequest: samlRequest }).toString(),
            })
          : await idp.request({ path: `/saml/slo?SAMLRequest=${percent(samlRequest)}`, headers: { accept: 'application/json' } });
        requests += 1;
        assert.ok(response.status < 500, `slo: HTTP ${response.status} ${response.body.slice(0, 300)}`);
      },
      Math.ceil(RUNS / 2),
    );
  });

  it('POST /api/v1/tasks and /scim/v2/Users: hostile JSON never crashes the orchestrator APIs', async function () {
    const json = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.record({ agent: fc.oneof(fc.constant(agent.userName), fc.string()), scopes: fc.anything(), tier: fc.anything(), ttlSeconds: fc.anything(), context: fc.anything() }).map((value) => JSON.stringify(value)),
      fc.record({ schemas: fc.anything(), userName: fc.anything(), __proto__: fc.anything(), active: fc.anything() }).map((value) => JSON.stringify(value)),
      edits.map((changes) => applyEdits(JSON.stringify({ agent: agent.userName, scopes: ['invoices:read'], tier: 'high' }), changes)),
    );
    await property(
      fc.tuple(json, fc.constantFrom('/api/v1/tasks', '/scim/v2/Users')),
      async ([body, path]) => {
        const contentType = path.startsWith('/scim') ? 'application/scim+json' : 'application/json';
        const response = await idp.request({ method: 'POST', path, headers: orchestratorHeaders(idp, contentType), body });
        requests += 1;
        assert.ok(response.status < 500, `${path}: HTTP ${response.status} ${response.body.slice(0, 300)} for ${body.slice(0, 200)}`);
      },
      Math.ceil(RUNS / 2),
    );
  });
});
