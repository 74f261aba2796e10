import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { DOMParser } from '@xmldom/xmldom';
import { ManualClock } from '../lib/common/clock.js';
import type { ErrorCode } from '../lib/common/errors.js';
import { parseSpMetadata } from '../lib/saml/sp-metadata.js';
import { NS } from '../lib/saml/namespaces.js';
import {
  AGENT_USER_NAME,
  CORPUS_DIR,
  IDP_BASE_URL,
  ISSUED_AT,
  OPEN_SP,
  SETUP_DIR,
} from './fixtures/attacks/corpus.js';
import { openTask, provisionAgent, startTestIdp, type HttpResult, type TestIdp, type TestKeyPair } from './support/harness.js';
import { decodeHtml, registerNodeSamlSp } from './support/node-saml-sp.js';
import { signatureOf, xmlsec1Verify } from './support/xml-tools.js';

/*
 * The attack corpus (spec/fixtures/attacks, one file per attack, generate.ts writes it): each file
 * goes over HTTPS to the real endpoint, and each must be refused with its exact error, with no
 * assertion issued, and with no session, SP, agent, certificate, task or token row created or
 * changed. Audit entries and the replay cache are the only state a refusal may write.
 */

interface Expected {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: RegExp;
  /** Sent once successfully first, snapshotted, then sent again (the attack is the repetition). */
  readonly replay?: true;
}

const malformed = (message: RegExp): Expected => ({ status: 400, code: 'saml_malformed_request', message });
const badSignature = (message: RegExp): Expected => ({ status: 403, code: 'saml_signature_invalid', message });
const badJwt = (message: RegExp): Expected => ({ status: 403, code: 'agent_unauthenticated', message });
const metadataRefused = (message: RegExp): Expected => ({ status: 1, code: 'sp_metadata_invalid', message });

const EXPECTED: Readonly<Record<string, Expected>> = {
  // Safe XML intake
  'xxe.external-entity.post.xml': malformed(/^the AuthnRequest contains a DOCTYPE declaration$/),
  'xxe.parameter-entity.redirect.xml': malformed(/^the AuthnRequest contains a DOCTYPE declaration$/),
  'billion-laughs.post.xml': malformed(/^the AuthnRequest contains a DOCTYPE declaration$/),
  'entity-declaration-without-doctype.post.xml': malformed(/^the AuthnRequest contains an ENTITY declaration$/),
  'processing-instruction.post.xml': malformed(/^the AuthnRequest contains a processing instruction$/),
  'multiple-roots.post.xml': malformed(/^the AuthnRequest is not well-formed XML/),
  'deep-nesting.post.xml': malformed(/^the AuthnRequest nests elements deeper than 64 levels$/),
  'control-character.post.xml': malformed(/^the AuthnRequest contains characters that XML 1.0 does not allow$/),
  'schema-invalid.unknown-element.post.xml': malformed(/^the AuthnRequest does not conform to the SAML 2.0 schema: .*GrantEverything': This element is not expected/),
  'schema-invalid.duplicate-ids.post.xml': malformed(/^the AuthnRequest does not conform to the SAML 2.0 schema: .*_legit0000000000000001/),
  'deflate-bomb.query.txt': malformed(/^the inflated SAMLRequest exceeds 131072 bytes$/),
  'oversized-message.form.txt': malformed(/^SAMLRequest exceeds 131072 bytes$/),
  'invalid-utf8.form.txt': malformed(/^the SAMLRequest is not valid UTF-8$/),
  'bad-base64.form.txt': malformed(/^SAMLRequest is not valid base64$/),
  'parameter-pollution.repeated-samlrequest.query.txt': malformed(/^the query repeats the SAMLRequest parameter$/),

  // Signature wrapping (SAMLRaider's eight classes on a root-signed message)
  'xsw1.original-inside-signature.post.xml': malformed(/schema: .*Signature.*This element is not expected|schema: .*AuthnRequest/),
  'xsw2.original-before-signature.post.xml': malformed(/schema: .*AuthnRequest': This element is not expected/),
  'xsw3.evil-clone-with-original-id.post.xml': malformed(/schema: .*_legit0000000000000001/),
  'xsw4.original-inside-evil-root.post.xml': badSignature(/^the ds:Signature is not a direct child of the root element$/),
  'xsw5.signature-moved-to-evil-original-renamed.post.xml': badSignature(/^the signature does not verify with any registered signing certificate of the SP$/),
  'xsw6.original-inside-signature-object.post.xml': badSignature(/^unexpected element ds:Object in ds:Signature$/),
  'xsw7.evil-clone-in-extensions.post.xml': badSignature(/^expected exactly one ds:Signature, found 1$|^the signature does not verify/),
  'xsw8.original-in-object-evil-root-same-id.post.xml': malformed(/schema: .*_legit0000000000000001/),

  // Signature structure, algorithms and keys
  'two-signedinfo.post.xml': malformed(/schema: .*SignedInfo': This element is not expected/),
  'comment-inside-digestvalue.post.xml': badSignature(/^the ds:Signature contains a comment$/),
  'second-reference.post.xml': badSignature(/^more than one ds:Reference in ds:SignedInfo$/),
  'reference-to-extension.post.xml': badSignature(/^the signature Reference does not point at the signed element's ID$/),
  'empty-reference-uri.post.xml': badSignature(/^the signature Reference does not point at the signed element's ID$/),
  'tampered-after-signing.acs-swap.post.xml': badSignature(/^the signature does not verify with any registered signing certificate of the SP$/),
  'key-from-keyinfo.attacker-certificate.post.xml': badSignature(/^the signature does not verify with any registered signing certificate of the SP$/),
  'hmac-signature-method.post.xml': badSignature(/^signature algorithm http:\/\/www.w3.org\/2001\/04\/xmldsig-more#hmac-sha256 is not accepted$/),
  'rsa-sha1.query.txt': badSignature(/^signature algorithm http:\/\/www.w3.org\/2000\/09\/xmldsig#rsa-sha1 is not accepted$/),
  'signed-by-unregistered-key.query.txt': badSignature(/^the signature does not verify with any registered signing certificate of the SP$/),
  'unsigned-request-to-signing-sp.redirect.xml': { status: 403, code: 'saml_signature_required', message: /AuthnRequestsSigned/ },

  // Comments and processing instructions in signed values
  'comment-injection.issuer-truncation.post.xml': { status: 400, code: 'saml_unknown_sp', message: /^the AuthnRequest Issuer is not a registered SP$/ },
  'pi-injection.issuer.post.xml': malformed(/^the AuthnRequest contains a processing instruction$/),

  // Protocol checks
  'wrong-destination.redirect.xml': { status: 400, code: 'saml_wrong_destination', message: /Destination is not this IdP's SSO endpoint/ },
  'stale-issue-instant.redirect.xml': { status: 403, code: 'saml_request_stale', message: /more than 180 s from now/ },
  'future-issue-instant.redirect.xml': { status: 403, code: 'saml_request_stale', message: /more than 180 s from now/ },
  'version-1-1.redirect.xml': { status: 400, code: 'saml_version_mismatch', message: /Version 1.1 is not supported/ },
  'unknown-issuer.redirect.xml': { status: 400, code: 'saml_unknown_sp', message: /^the AuthnRequest Issuer is not a registered SP$/ },
  'acs-swap.unregistered-acs.redirect.xml': { status: 400, code: 'saml_acs_not_registered', message: /not a registered https HTTP-POST endpoint/ },
  'acs-swap.prefix-of-registered.redirect.xml': { status: 400, code: 'saml_acs_not_registered', message: /not a registered https HTTP-POST endpoint/ },
  'acs-swap.dot-segment.redirect.xml': { status: 400, code: 'saml_acs_not_registered', message: /not a registered https HTTP-POST endpoint/ },
  'acs-swap.case-and-port.redirect.xml': { status: 400, code: 'saml_acs_not_registered', message: /not a registered https HTTP-POST endpoint/ },
  'relay-state-over-80-bytes.query.txt': malformed(/^RelayState exceeds 80 bytes$/),
  'relay-state-over-80-bytes.initiate.txt': malformed(/^RelayState must be one value of at most 80 bytes$/),
  'relay-state-repeated.initiate.txt': malformed(/^RelayState must be one value of at most 80 bytes$/),
  'replay.signed-request-sent-twice.post.xml': { status: 403, code: 'saml_request_replayed', message: /already been used/, replay: true },

  // JWT client assertions
  'jwt.alg-none.jwt.txt': badJwt(/./),
  'jwt.hs256-keyed-with-agent-certificate.jwt.txt': badJwt(/./),
  'jwt.kid-path-traversal.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'jwt.kid-sql-injection.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'jwt.embedded-jwk.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'jwt.embedded-x5c.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'jwt.remote-jku.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'jwt.remote-x5u.jwt.txt': badJwt(/not signed by a key registered to this agent/),
  'replay.jwt-jti-reused.jwt.txt': { status: 403, code: 'agent_credential_replayed', message: /already been used/, replay: true },

  // SP metadata, through `tessera sp register`
  'metadata.xxe.metadata.xml': metadataRefused(/metadata contains a DOCTYPE declaration/),
  'metadata.billion-laughs.metadata.xml': metadataRefused(/metadata contains a DOCTYPE declaration/),
  'metadata.schema-invalid.metadata.xml': metadataRefused(/metadata does not conform to the SAML 2.0 schema: .*attribute 'Evil' is not allowed/),
};

const NOT_ATTACKS = new Set(['corpus.ts', 'generate.ts', 'README.md', 'setup']);
const CORPUS_FILES = readdirSync(CORPUS_DIR).filter((name) => !NOT_ATTACKS.has(name)).sort();
const CLI = fileURLToPath(new URL('../scripts/tessera.js', import.meta.url));
/** State a refused request must leave alone: everything but the audit trail and the replay cache. */
const UNTOUCHED_TABLE = (name: string) => !/audit|replay|^schema_migrations$|^sqlite_/.test(name);

function setupFile(name: string): string {
  return readFileSync(path.join(SETUP_DIR, name), 'utf8');
}

describe('attack corpus (spec/fixtures/attacks): each refused exactly, nothing issued or changed', function () {
  this.timeout(60_000);
  let idp: TestIdp;
  let clock: ManualClock;
  let db: Database.Database;
  let agentCredential: TestKeyPair;
  const outbound: string[] = [];
  const originalConnect = net.Socket.prototype.connect;

  before(async function () {
    // Keys and the TLS certificate are made at the real time; the messages were issued at ISSUED_AT.
    clock = new ManualClock(Date.now());
    idp = await startTestIdp({ clock, env: { TESSERA_BASE_URL: IDP_BASE_URL } });
    clock.set(new Date(ISSUED_AT));
    for (const file of ['sp-signed.metadata.xml', 'sp-open.metadata.xml']) {
      await idp.running.idp.store.serviceProviders.register(parseSpMetadata(setupFile(file), { signResponse: true, now: clock.now() }), false);
    }
    const certPem = setupFile('agent.cert.pem');
    const keyPem = setupFile('agent.key.pem');
    agentCredential = { certPem, keyPem, certBase64: new X509Certificate(certPem).raw.toString('base64'), privateKey: createPrivateKey(keyPem) };
    await provisionAgent(idp, { userName: AGENT_USER_NAME, credential: agentCredential });
    db = new Database(path.join(idp.dataDir, 'tessera.db'), { readonly: true, fileMustExist: true });
    // Every outbound connection attempt is recorded: the only one allowed is the test's own to the IdP.
    const idpPort = idp.port;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const [first, second] = args;
      const target = typeof first === 'object' && first !== null ? (first as { host?: string; port?: number; path?: string }) : { port: Number(first), host: typeof second === 'string' ? second : undefined };
      if (target.path === undefined && Number(target.port) !== idpPort) outbound.push(`${target.host ?? '?'}:${String(target.port)}`);
      return (originalConnect as (...parameters: unknown[]) => net.Socket).apply(this, args);
    } as typeof net.Socket.prototype.connect;
  });

  after(async () => {
    net.Socket.prototype.connect = originalConnect;
    db?.close();
    await idp?.close();
  });

  function snapshot(): string {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>)
      .map((row) => row.name)
      .filter(UNTOUCHED_TABLE);
    return JSON.stringify(tables.map((table) => [table, db.prepare(`SELECT * FROM "${table}"`).all().map((row) => JSON.stringify(row)).sort()]));
  }

  const mtls = () => ({ certPem: agentCredential.certPem, keyPem: agentCredential.keyPem });

  async function send(file: string, content: string, taskId: string): Promise<HttpResult> {
    const headers = { accept: 'application/json', 'task-id': taskId };
    const raw = content.replace(/\n$/, '');
    if (file.endsWith('.post.xml') || file.endsWith('.form.txt')) {
      const body = file.endsWith('.form.txt') ? raw : `SAMLRequest=${encodeURIComponent(Buffer.from(content, 'utf8').toString('base64'))}`;
      return idp.request({ method: 'POST', path: '/saml/sso', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body, clientCert: mtls() });
    }
    if (file.endsWith('.redirect.xml')) {
      const samlRequest = encodeURIComponent(deflateRawSync(Buffer.from(content, 'utf8')).toString('base64'));
      return idp.request({ path: `/saml/sso?SAMLRequest=${samlRequest}`, headers, clientCert: mtls() });
    }
    if (file.endsWith('.query.txt')) return idp.request({ path: `/saml/sso?${raw}`, headers, clientCert: mtls() });
    if (file.endsWith('.initiate.txt')) return idp.request({ path: `/saml/sso/initiate?${raw}`, headers, clientCert: mtls() });
    if (file.endsWith('.jwt.txt')) {
      return idp.request({ path: `/saml/sso/initiate?sp=${encodeURIComponent(OPEN_SP.entityId)}`, headers: { ...headers, authorization: `Bearer ${raw}` } });
    }
    throw new Error(`no way to send ${file}`);
  }

  interface AuditLine {
    readonly event: string;
    readonly reason?: string;
    readonly message?: string;
  }
  const auditSince = (mark: number): AuditLine[] =>
    idp.logLines.slice(mark).map((line) => JSON.parse(line) as AuditLine).filter((line) => line.event.startsWith('audit.'));

  function assertNoAssertion(response: HttpResult): void {
    assert.doesNotMatch(response.body, /<saml:Assertion|EncryptedAssertion/);
    const samlResponse = /"SAMLResponse":"([^"]+)"/.exec(response.body)?.[1];
    if (samlResponse !== undefined) {
      const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
      assert.doesNotMatch(xml, /Assertion/, 'the error Response carries no assertion');
      assert.match(xml, /<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:(Requester|Responder|VersionMismatch)"/);
    }
  }

  it('has an expectation for every file and a file for every expectation', () => {
    assert.deepEqual(CORPUS_FILES, Object.keys(EXPECTED).sort());
  });

  for (const file of CORPUS_FILES) {
    it(file, async function () {
      const expected = EXPECTED[file];
      assert.ok(expected, `no expectation for ${file}`);
      const content = readFileSync(path.join(CORPUS_DIR, file), 'utf8');

      if (file.endsWith('.metadata.xml')) {
        const before = snapshot();
        const result = spawnSync(process.execPath, [CLI, 'sp', 'register', path.join(CORPUS_DIR, file), '--data-dir', idp.dataDir], {
          encoding: 'utf8',
          timeout: 30_000,
          env: { PATH: process.env.PATH ?? '' },
        });
        assert.equal(result.status, expected.status, result.stderr);
        assert.match(result.stderr, expected.message);
        assert.equal(result.stderr.trim().split('\n').length, 1, 'one line on stderr');
        assert.equal(snapshot(), before, 'no row created or changed');
        return;
      }

      outbound.length = 0;
      if (expected.replay) {
        const first = await send(file, content, await openTask(idp, { agent: AGENT_USER_NAME }));
        const errors = idp.logLines.filter((line) => line.includes('"level":"error"'));
        assert.equal(first.status, 200, `the first use succeeds: ${first.body.slice(0, 300)} ${errors.join('\n')}`);
      }
      const taskId = await openTask(idp, { agent: AGENT_USER_NAME });
      const before = snapshot();
      const mark = idp.logLines.length;
      const response = await send(file, content, taskId);

      assert.equal(response.status, expected.status, response.body);
      const audit = auditSince(mark);
      const denied = audit.filter((line) => line.event === 'audit.signon.denied');
      assert.equal(denied.length, 1, `one refusal audited: ${JSON.stringify(audit)}`);
      assert.equal(denied[0]?.reason, expected.code, denied[0]?.message);
      assert.match(denied[0]?.message ?? '', expected.message);
      assert.ok(!audit.some((line) => line.event === 'audit.signon.issued'), 'nothing issued');
      const json = response.json<{ error?: string }>();
      if (json.error !== undefined) assert.equal(json.error, expected.code);
      assertNoAssertion(response);
      assert.equal(snapshot(), before, 'no session, SP, agent, certificate, task or token row created or changed');
      assert.deepEqual(outbound, [], 'no outbound connection');
    });
  }
});

describe('what we sign stays ours: markup in SCIM and task values reaches the assertion as text', function () {
  this.timeout(60_000);
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp();
  });
  after(async () => idp?.close());

  it('each hostile value appears literally in exactly one AttributeValue, and both signatures verify (node-saml, xmlsec1)', async function () {
    const hostile = {
      userName: 'evil</saml:AttributeValue></saml:Attribute><saml:Attribute Name="Agent-Scope"><saml:AttributeValue>admin',
      modelHash: 'sha256:<!-- injected -->deadbeef',
      sourceCommit: '<?xml-stylesheet href="https://evil.example/x.xsl"?>c0ffee',
      trainingDataVersion: 'td]]><saml:AttributeValue>injected</saml:AttributeValue><![CDATA[',
      computeZone: `zone-&amp;-"double"-'single'-<>`,
    };
    const scopes = ['</saml:AttributeValue>', '<!--', '<?', ']]>'];
    const sp = await registerNodeSamlSp(idp);
    const agent = await provisionAgent(idp, {
      userName: hostile.userName,
      profile: { modelHash: hostile.modelHash, sourceCommit: hostile.sourceCommit, trainingDataVersion: hostile.trainingDataVersion, computeZone: hostile.computeZone, scopes },
    });
    const taskId = await openTask(idp, { agent: agent.userName, scopes, tier: 'high' });
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    const samlResponse = response.json<{ SAMLResponse: string }>().SAMLResponse;
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');

    const responseSignature = await xmlsec1Verify(xml, idp.signingCertificatePem, { signatureXPath: signatureOf('Response') });
    assert.ok(responseSignature.ok, responseSignature.output);
    const assertionSignature = await xmlsec1Verify(xml, idp.signingCertificatePem, { signatureXPath: signatureOf('Assertion') });
    assert.ok(assertionSignature.ok, assertionSignature.output);

    const { profile } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: samlResponse });
    assert.ok(profile);
    const read = profile as Record<string, unknown>;
    assert.equal(profile.nameID, hostile.userName);
    assert.equal(read['AI-Agent-ID'], hostile.userName);
    assert.equal(read['Model-Hash'], hostile.modelHash);
    assert.equal(read['Source-Commit'], hostile.sourceCommit);
    assert.equal(read['Training-Data-Version'], hostile.trainingDataVersion);
    assert.equal(read['Compute-Zone'], hostile.computeZone);
    assert.deepEqual(read['Agent-Scope'], scopes);

    const document = new DOMParser().parseFromString(xml, 'text/xml');
    const values = Array.from(document.getElementsByTagNameNS(NS.assertion, 'AttributeValue'), (element) => element.textContent ?? '');
    for (const value of [...Object.values(hostile), ...scopes]) {
      assert.equal(values.filter((candidate) => candidate === value).length, 1, `exactly one AttributeValue is ${JSON.stringify(value)}`);
    }
    const attributes = Array.from(document.getElementsByTagNameNS(NS.assertion, 'Attribute'), (element) => element.getAttribute('Name'));
    assert.deepEqual(attributes.filter((name) => name === 'Agent-Scope').length, 1, 'no injected Attribute');
    assert.equal(values.length, 2 + 4 + scopes.length + 1, 'AI-Agent-ID, Task-ID, four profile values, the scopes and the tier: nothing injected');
  });
});

describe('RelayState: at most 80 bytes, always HTML-escaped, never a redirect target', function () {
  this.timeout(60_000);
  let idp: TestIdp;
  let sp: Awaited<ReturnType<typeof registerNodeSamlSp>>;
  let agentCredential: { certPem: string; keyPem: string };
  let userName: string;

  before(async () => {
    idp = await startTestIdp();
    sp = await registerNodeSamlSp(idp);
    const agent = await provisionAgent(idp);
    agentCredential = { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem };
    userName = agent.userName;
  });
  after(async () => idp?.close());

  const hostile = 'https://evil.attacks.test/"><script>alert(1)</script>';

  async function initiate(relayState: string, taskId: string | undefined): Promise<HttpResult> {
    return idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}&RelayState=${encodeURIComponent(relayState)}`,
      headers: { accept: 'text/html', ...(taskId === undefined ? {} : { 'task-id': taskId }) },
      clientCert: agentCredential,
    });
  }

  function assertPostedToAcs(response: HttpResult, relayState: string): void {
    assert.equal(response.headers.location, undefined, 'never a redirect');
    assert.ok(response.status < 300 || response.status >= 400, `HTTP ${response.status}`);
    assert.ok(!response.body.includes('<script>alert(1)</script>'), 'the markup is escaped');
    assert.ok(!response.body.includes('evil.attacks.test/"'), 'the quote is escaped');
    const action = /<form method="post" action="([^"]+)">/.exec(response.body)?.[1];
    assert.equal(decodeHtml(action ?? ''), sp.acsUrl, 'the form goes to the registered ACS, whatever RelayState says');
    const posted = /name="RelayState" value="([^"]*)"/.exec(response.body)?.[1];
    assert.equal(decodeHtml(posted ?? ''), relayState, 'RelayState travels back unchanged, as data');
    assert.match(String(response.headers['content-security-policy']), new RegExp(`form-action ${new URL(sp.acsUrl).origin.replace(/\./g, '\\.')}(;|$)`));
  }

  it('a URL with markup is carried escaped in the form to the registered ACS, on success', async function () {
    const taskId = await openTask(idp, { agent: userName });
    const response = await initiate(hostile, taskId);
    assert.equal(response.status, 200, response.body);
    assertPostedToAcs(response, hostile);
  });

  it('and on a refusal answered to the ACS (no task)', async function () {
    const response = await initiate(hostile, undefined);
    assert.equal(response.status, 403, response.body);
    assertPostedToAcs(response, hostile);
  });

  it('counts bytes, not characters: 40 × "é" (80 bytes) passes, one byte more is refused without reaching the ACS', async function () {
    const taskId = await openTask(idp, { agent: userName });
    assert.equal((await initiate('é'.repeat(40), taskId)).status, 200);
    const refused = await initiate(`${'é'.repeat(40)}x`, taskId);
    assert.equal(refused.status, 400);
    assert.doesNotMatch(refused.body, /<form/);
    assert.ok(!refused.body.includes('é'.repeat(40)), 'the refused value is not reflected');
  });
});
