import assert from 'node:assert/strict';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { ManualClock } from '../lib/common/clock.js';
import { MAX_ENTRIES, parsedCertificate } from '../lib/common/parsed-certificates.js';
import type { AuditEntry } from '../lib/audit/index.js';
import { openTask, orchestratorHeaders, provisionAgent, startTestIdp, testKeyPair, type TestAgent, type TestIdp, type TestKeyPair } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * The client certificate is parsed once per TLS connection (agents/peer-certificate.ts),
 * and the server turns renegotiation off so that parse stays true for the connection's
 * life. What must not be remembered with it is the decision: every sign-on on a
 * reused connection looks the certificate and its agent up again, so a retirement,
 * a deactivation or the certificate's own expiry refuses the very next request.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

interface SignOnResult {
  readonly status: number;
  readonly body: string;
  /** The client's TLS socket the answer came on: the same object means the same connection. */
  readonly socket: TLSSocket;
}

/** One keep-alive connection at most, as a busy agent would hold it, with or without a client certificate. */
class KeepAliveClient {
  readonly agent: HttpsAgent;

  constructor(
    private readonly idp: TestIdp,
    credential: TestKeyPair | undefined,
  ) {
    this.agent = new HttpsAgent({
      keepAlive: true,
      maxSockets: 1,
      ca: idp.tlsCertificatePem,
      servername: 'localhost',
      ...(credential ? { cert: credential.certPem, key: credential.keyPem } : {}),
    });
  }

  signOn(sp: NodeSamlSp, taskId: string): Promise<SignOnResult> {
    return new Promise((resolve, reject) => {
      const outgoing = httpsRequest(
        {
          host: '127.0.0.1',
          port: this.idp.port,
          path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
          headers: { accept: 'application/json', 'task-id': taskId },
          agent: this.agent,
        },
        (response) => {
          // Taken now: a keep-alive agent detaches the socket from the response once it ends.
          const socket = response.socket as TLSSocket;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), socket }));
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The SAML Response inside a JSON sign-on answer, decoded. */
function samlResponseOf(result: SignOnResult): string {
  const body = JSON.parse(result.body) as { SAMLResponse?: string };
  assert.ok(body.SAMLResponse, `no SAMLResponse in ${result.body}`);
  return Buffer.from(body.SAMLResponse, 'base64').toString('utf8');
}

/** What a failed assertion should show: the status and the Response's status message, not kilobytes of base64. */
function summary(result: SignOnResult): string {
  let message = result.body.slice(0, 200);
  try {
    const xml = samlResponseOf(result);
    message = /<samlp:StatusMessage>([^<]*)</.exec(xml)?.[1] ?? (/Assertion/.test(xml) ? 'an assertion' : 'no status message');
  } catch {
    // Not a JSON answer with a Response: the raw body says more.
  }
  return `HTTP ${result.status}: ${message}`;
}

function assertIssued(result: SignOnResult, agent: TestAgent): void {
  assert.equal(result.status, 200, summary(result));
  const xml = samlResponseOf(result);
  assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Success"`));
  assert.match(xml, new RegExp(`<saml:AttributeValue[^>]*>${agent.userName}</saml:AttributeValue>`));
}

function assertRefused(result: SignOnResult, message: RegExp): void {
  assert.equal(result.status, 403, summary(result));
  const xml = samlResponseOf(result);
  assert.match(xml, new RegExp(`StatusCode Value="${STATUS}AuthnFailed"`));
  assert.match(xml, message);
  assert.doesNotMatch(xml, /Assertion/);
}

describe('sign-on over one keep-alive mTLS connection', function () {
  this.timeout(60_000);
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let clock: ManualClock;
  const clients: KeepAliveClient[] = [];
  /** Server side: every TLS connection, and how often each one's peer certificate was read. */
  const serverSockets: TLSSocket[] = [];
  const peerReads = new WeakMap<TLSSocket, number>();

  before(async function () {
    clock = new ManualClock();
    idp = await startTestIdp({ clock });
    sp = await registerNodeSamlSp(idp);
    idp.running.server.on('secureConnection', (socket: TLSSocket) => {
      serverSockets.push(socket);
      const read = socket.getPeerCertificate.bind(socket);
      socket.getPeerCertificate = ((detailed?: boolean) => {
        peerReads.set(socket, (peerReads.get(socket) ?? 0) + 1);
        return read(detailed as true);
      }) as TLSSocket['getPeerCertificate'];
    });
  });

  after(async function () {
    for (const client of clients) client.close();
    await idp.close();
  });

  function client(credential: TestKeyPair | undefined): KeepAliveClient {
    const made = new KeepAliveClient(idp, credential);
    clients.push(made);
    return made;
  }

  async function scimPatch(agent: TestAgent, operations: unknown[]): Promise<void> {
    const response = await idp.request({
      method: 'PATCH',
      path: `/scim/v2/Users/${agent.id}`,
      headers: orchestratorHeaders(idp),
      body: JSON.stringify({ schemas: [PATCH_OP], Operations: operations }),
    });
    assert.ok(response.status === 200 || response.status === 204, `${response.status} ${response.body}`);
  }

  /** The newest signon.denied entry: the refusal's code as audited. */
  async function lastDenial(): Promise<AuditEntry> {
    let last: AuditEntry | undefined;
    for await (const entry of idp.running.idp.store.audit.query({})) if (entry.event === 'signon.denied') last = entry;
    assert.ok(last, 'no signon.denied entry');
    return last;
  }

  /** Every answer came over one connection: one socket on the client, one TLS handshake on the server, one certificate read. */
  function assertOneConnection(results: SignOnResult[]): void {
    const socket = results[0]!.socket;
    for (const result of results) assert.equal(result.socket, socket, 'the keep-alive connection was not reused');
    assert.equal(socket.destroyed, false, 'the connection was closed');
    const serverSide = serverSockets.filter((s) => !s.destroyed && s.remotePort === socket.localPort);
    assert.equal(serverSide.length, 1, 'the server does not see exactly one open connection from this client');
    assert.equal(peerReads.get(serverSide[0]!), 1, 'the client certificate was read more than once on one connection');
  }

  it('refuses the next sign-on on the same connection once SCIM retires the certificate', async function () {
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const mtls = client(agent.credential);
    const first = await mtls.signOn(sp, taskId);
    assertIssued(first, agent);
    const second = await mtls.signOn(sp, taskId);
    assertIssued(second, agent);

    const replacement = await testKeyPair(`${agent.userName}-next`);
    await scimPatch(agent, [{ op: 'replace', path: 'x509Certificates', value: [{ value: replacement.certBase64 }] }]);
    const afterRetirement = await mtls.signOn(sp, taskId);
    assertRefused(afterRetirement, /retired/);
    assert.equal((await lastDenial()).reason, 'agent_credential_retired');
    // Still refused, not a one-off: nothing about the connection remembers the earlier success.
    assertRefused(await mtls.signOn(sp, taskId), /retired/);
    assertOneConnection([first, second, afterRetirement]);
  });

  it('refuses the next sign-on on the same connection once SCIM deactivates the agent, and accepts it again on reactivation', async function () {
    const agent = await provisionAgent(idp);
    const mtls = client(agent.credential);
    const taskId = await openTask(idp, { agent: agent.userName });
    const first = await mtls.signOn(sp, taskId);
    assertIssued(first, agent);

    await scimPatch(agent, [{ op: 'replace', path: 'active', value: false }]);
    const inactive = await mtls.signOn(sp, taskId);
    assertRefused(inactive, /deactivated/);
    assert.equal((await lastDenial()).reason, 'agent_inactive');

    await scimPatch(agent, [{ op: 'replace', path: 'active', value: true }]);
    const again = await mtls.signOn(sp, await openTask(idp, { agent: agent.userName }));
    assertIssued(again, agent);
    assertOneConnection([first, inactive, again]);
  });

  it("judges the remembered certificate's validity against the clock at each request", async function () {
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const mtls = client(agent.credential);
    const first = await mtls.signOn(sp, taskId);
    assertIssued(first, agent);
    const certificate = new X509Certificate(agent.credential.certPem);
    const now = clock.now();
    try {
      clock.set(new Date(Date.parse(certificate.validFrom) - 60_000));
      const early = await mtls.signOn(sp, taskId);
      assertRefused(early, /not yet valid/);
      clock.set(new Date(Date.parse(certificate.validTo) + 60_000));
      const late = await mtls.signOn(sp, taskId);
      assertRefused(late, /has expired/);
      assert.equal((await lastDenial()).reason, 'agent_unauthenticated');
      clock.set(now);
      const back = await mtls.signOn(sp, taskId);
      assertIssued(back, agent);
      assertOneConnection([first, early, late, back]);
    } finally {
      clock.set(now);
    }
  });

  it('gives a connection without a client certificate nothing of another connection', async function () {
    const agent = await provisionAgent(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const mtls = client(agent.credential);
    const anonymous = client(undefined);
    const signedOn = await mtls.signOn(sp, taskId);
    assertIssued(signedOn, agent);

    const refused = await anonymous.signOn(sp, taskId);
    assertRefused(refused, /no agent credential/);
    assert.equal((await lastDenial()).reason, 'agent_unauthenticated');
    const refusedAgain = await anonymous.signOn(sp, taskId);
    assertRefused(refusedAgain, /no agent credential/);
    assert.notEqual(refused.socket, signedOn.socket);
    assert.equal(refusedAgain.socket, refused.socket);

    // And the certificate connection is not spoiled by the anonymous one's empty answer.
    const stillSignedOn = await mtls.signOn(sp, taskId);
    assertIssued(stillSignedOn, agent);
    assertOneConnection([signedOn, stillSignedOn]);
  });

  describe('TLS 1.2 renegotiation', function () {
    /** Renegotiates once on a fresh TLS 1.2 connection; says whether the server went along. */
    function renegotiate(port: number, ca: string, credential: TestKeyPair): Promise<'renegotiated' | 'refused'> {
      return new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert: credential.certPem, key: credential.keyPem, maxVersion: 'TLSv1.2' });
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error('renegotiation neither completed nor failed within 5 s'));
        }, 5_000);
        const settle = (outcome: 'renegotiated' | 'refused'): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve(outcome);
        };
        // Read whatever the server says last, so its closing the connection is seen.
        socket.resume();
        socket.once('secureConnect', () => {
          assert.equal(socket.getProtocol(), 'TLSv1.2');
          socket.once('error', () => settle('refused'));
          socket.once('close', () => settle('refused'));
          const started = socket.renegotiate({ rejectUnauthorized: true }, (error) => settle(error ? 'refused' : 'renegotiated'));
          if (!started) settle('refused');
        });
        socket.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    }

    it('ends a connection whose client tries to renegotiate, and goes on serving others', async function () {
      const agent = await provisionAgent(idp);
      assert.equal(await renegotiate(idp.port, idp.tlsCertificatePem, agent.credential), 'refused');
      const health = await idp.request({ path: '/healthz' });
      assert.equal(health.status, 200);
    });

    it('(control) an HTTPS server with the same options but renegotiation left on lets this client renegotiate', async function () {
      const agent = await provisionAgent(idp);
      const tls = idp.running.idp.keys.tls;
      const server = createHttpsServer({ key: tls.keyPem, cert: tls.certificatePem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (_req, res) =>
        res.end(),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        assert.equal(await renegotiate(port, tls.certificatePem, agent.credential), 'renegotiated');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });
});

describe('parsed certificate cache', function () {
  this.timeout(30_000);
  let pem: string;

  before(async function () {
    pem = (await testKeyPair('cache-probe')).certPem;
  });

  /** The same certificate under a different cache key: text before the PEM block is ignored by the parser. */
  const variant = (tag: string): string => `${tag}\n${pem}`;

  it('parses a PEM once: the same text gives the same object, with the key and validity of the certificate', function () {
    const first = parsedCertificate(pem);
    assert.equal(parsedCertificate(pem), first);
    const reference = new X509Certificate(pem);
    assert.equal(first.certificate.fingerprint256, reference.fingerprint256);
    assert.equal(first.publicKey.asymmetricKeyType, reference.publicKey.asymmetricKeyType);
    assert.equal(first.validFromMs, Date.parse(reference.validFrom));
    assert.equal(first.validToMs, Date.parse(reference.validTo));
  });

  it(`keeps at most ${MAX_ENTRIES} certificates, evicting the least recently used`, function () {
    const run = `lru-${Date.now()}`;
    const key = (i: number): string => variant(`${run} ${i}`);
    const first = parsedCertificate(key(0));
    const second = parsedCertificate(key(1));
    const third = parsedCertificate(key(2));
    for (let i = 3; i < MAX_ENTRIES; i++) parsedCertificate(key(i));
    // The cache holds exactly this run's entries, oldest first: one more evicts entry 0 …
    parsedCertificate(key(MAX_ENTRIES));
    // … while entry 1 is still there; using it makes entry 2 the least recently used …
    assert.equal(parsedCertificate(key(1)), second, 'evicted before the cache was full, or not in order of use');
    parsedCertificate(key(MAX_ENTRIES + 1));
    // … so the next one evicts entry 2, not entry 1.
    assert.equal(parsedCertificate(key(1)), second, 'a recently used entry was evicted');
    assert.notEqual(parsedCertificate(key(2)), third, 'the least recently used entry was kept past the limit');
    const again = parsedCertificate(key(0));
    assert.notEqual(again, first, `the first of ${MAX_ENTRIES + 1} certificates was kept`);
    assert.equal(again.certificate.fingerprint256, first.certificate.fingerprint256);
  });

  it('throws on a PEM that is not a certificate, every time (nothing is cached for it)', function () {
    const bad = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
    assert.throws(() => parsedCertificate(bad));
    assert.throws(() => parsedCertificate(bad));
    assert.throws(() => parsedCertificate('not a certificate'));
  });
});
