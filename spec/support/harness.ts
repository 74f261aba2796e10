import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { loadConfig } from '../../lib/config/index.js';
import { createLogger } from '../../lib/common/log.js';
import type { Clock } from '../../lib/common/clock.js';
import { startIdp, type RunningIdp } from '../../lib/idp.js';
import { generateSelfSigned } from '../../lib/keys/index.js';
import { generateOrchestratorToken, hashOrchestratorToken } from '../../lib/tokens/index.js';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** A TLS client certificate and key (mTLS agents). */
  readonly clientCert?: { readonly certPem: string; readonly keyPem: string };
}

export interface TestIdp {
  readonly running: RunningIdp;
  readonly baseUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** The IdP's TLS certificate: the only CA the test client trusts. */
  readonly tlsCertificatePem: string;
  readonly signingCertificatePem: string;
  readonly orchestratorToken: string;
  readonly logLines: string[];
  request(options: RequestOptions): Promise<HttpResult>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real IdP over HTTPS on 127.0.0.1 with its own SQLite file in a fresh directory. */
export interface TestIdpOptions {
  readonly env?: Record<string, string>;
  readonly clock?: Clock;
  /** Reuse a data directory (to restart over the same database); it is then not removed on close. */
  readonly dataDir?: string;
  /** CAs the IdP trusts for SPs' back-channel TLS, as NODE_EXTRA_CA_CERTS would add them. */
  readonly trustedCaCertificates?: readonly string[];
  /** A token already stored in dataDir; otherwise a fresh one is created. */
  readonly orchestratorToken?: string;
}

export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tessera-test-'));
  const port = await freePort();
  const baseUrl = `https://localhost:${port}`;
  const config = loadConfig({
    env: { TESSERA_DATA_DIR: dataDir, TESSERA_PORT: String(port), TESSERA_BASE_URL: baseUrl, ...options.env },
  });
  const logLines: string[] = [];
  const logger = createLogger({ sink: (line) => logLines.push(line) });
  const running = await startIdp({
    config,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.trustedCaCertificates ? { trustedCaCertificates: options.trustedCaCertificates } : {}),
  });
  const orchestratorToken = options.orchestratorToken ?? generateOrchestratorToken();
  if (!options.orchestratorToken) {
    await running.idp.store.tokens.create(`test-${randomUUID()}`, hashOrchestratorToken(orchestratorToken), new Date());
  }
  const tlsCertificatePem = running.idp.keys.tls.certificatePem;

  const request = (req: RequestOptions): Promise<HttpResult> =>
    new Promise((resolve, reject) => {
      const outgoing = httpsRequest(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port,
          method: req.method ?? 'GET',
          path: req.path,
          headers: { ...(req.body !== undefined ? { 'content-length': Buffer.byteLength(req.body) } : {}), ...req.headers },
          ca: tlsCertificatePem,
          agent: false,
          ...(req.clientCert ? { cert: req.clientCert.certPem, key: req.clientCert.keyPem } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body,
              json: <T>() => JSON.parse(body) as T,
            });
          });
        },
      );
      outgoing.on('error', reject);
      if (req.body !== undefined) outgoing.write(req.body);
      outgoing.end();
    });

  return {
    running,
    baseUrl,
    port,
    dataDir,
    tlsCertificatePem,
    signingCertificatePem: running.idp.keys.signing.certificatePem,
    orchestratorToken,
    logLines,
    request,
    close: async () => {
      await running.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestKeyPair {
  readonly keyPem: string;
  readonly certPem: string;
  /** Base64 DER, as SCIM x509Certificates carries it. */
  readonly certBase64: string;
  readonly privateKey: KeyObject;
}

export async function testKeyPair(commonName: string): Promise<TestKeyPair> {
  const generated = await generateSelfSigned({ commonName, validDays: 30, now: new Date() });
  return {
    keyPem: generated.privateKeyPem,
    certPem: generated.certificatePem,
    certBase64: new X509Certificate(generated.certificatePem).raw.toString('base64'),
    privateKey: createPrivateKey(generated.privateKeyPem),
  };
}

export const AGENT_EXTENSION = 'urn:tessera:scim:schemas:extension:agent:2.0:Agent';

export interface TestAgent {
  readonly id: string;
  readonly userName: string;
  readonly credential: TestKeyPair;
}

export interface AgentProfileInput {
  readonly owner?: string;
  readonly modelHash?: string;
  readonly sourceCommit?: string;
  readonly trainingDataVersion?: string;
  readonly sensitivityTier?: string;
  readonly computeZone?: string;
  readonly allowedCidrs?: string[];
  readonly scopes?: string[];
}

export function orchestratorHeaders(idp: TestIdp, contentType = 'application/scim+json'): Record<string, string> {
  return { authorization: `Bearer ${idp.orchestratorToken}`, 'content-type': contentType, accept: contentType };
}

/** Creates a SCIM resource (POST /scim/v2/Users or /Groups) as the orchestrator; the answer as it came. */
export function createScimResource(idp: TestIdp, endpoint: 'Users' | 'Groups', document: Record<string, unknown>): Promise<HttpResult> {
  return idp.request({ method: 'POST', path: `/scim/v2/${endpoint}`, headers: orchestratorHeaders(idp), body: JSON.stringify(document) });
}

/** Provisions an agent through SCIM over HTTPS, with a fresh certificate unless one is given. */
export async function provisionAgent(
  idp: TestIdp,
  options: { userName?: string; profile?: AgentProfileInput; credential?: TestKeyPair } = {},
): Promise<TestAgent> {
  const userName = options.userName ?? `agent-${randomUUID().slice(0, 8)}`;
  const credential = options.credential ?? (await testKeyPair(userName));
  const response = await createScimResource(idp, 'Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', AGENT_EXTENSION],
    userName,
    active: true,
    x509Certificates: [{ value: credential.certBase64 }],
    [AGENT_EXTENSION]: {
      owner: 'team-payments@example.com',
      modelHash: 'sha256:9f2c4e1b7a0d',
      sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f',
      trainingDataVersion: 'td-2026.11',
      sensitivityTier: 'medium',
      computeZone: 'eu-west-1a',
      scopes: ['invoices:read', 'invoices:write', 'reports:read'],
      ...options.profile,
    },
  });
  if (response.status !== 201) throw new Error(`provisioning failed: ${response.status} ${response.body}`);
  return { id: response.json<{ id: string }>().id, userName, credential };
}

export async function openTask(
  idp: TestIdp,
  body: { agent: string; scopes?: string[]; tier?: string; audiences?: string[]; ttlSeconds?: number; context?: Record<string, unknown> },
): Promise<string> {
  const response = await idp.request({
    method: 'POST',
    path: '/api/v1/tasks',
    headers: orchestratorHeaders(idp, 'application/json'),
    body: JSON.stringify({ scopes: ['invoices:read'], tier: 'medium', ...body }),
  });
  if (response.status !== 201) throw new Error(`opening a task failed: ${response.status} ${response.body}`);
  return response.json<{ taskId: string }>().taskId;
}

/** IdP-initiated sign-on over HTTPS with the agent's TLS client certificate, answered as JSON. */
export function idpInitiatedSignOn(idp: TestIdp, agent: TestAgent, spEntityId: string, taskId: string): Promise<HttpResult> {
  return idp.request({
    path: `/saml/sso/initiate?sp=${encodeURIComponent(spEntityId)}`,
    headers: { 'task-id': taskId, accept: 'application/json' },
    clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
  });
}

/** A client-assertion JWT as an agent would sign it with its own key. */
export async function agentJwt(
  idp: TestIdp,
  agent: TestAgent,
  overrides: { key?: KeyObject; iat?: number; exp?: number; jti?: string; aud?: string; alg?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = overrides.iat ?? now;
  return new SignJWT({})
    .setProtectedHeader({ alg: overrides.alg ?? 'RS256', typ: 'JWT' })
    .setIssuer(agent.userName)
    .setSubject(agent.userName)
    .setAudience(overrides.aud ?? `${idp.baseUrl}/saml/metadata`)
    .setIssuedAt(iat)
    .setExpirationTime(overrides.exp ?? iat + 120)
    .setJti(overrides.jti ?? randomUUID())
    .sign(overrides.key ?? agent.credential.privateKey);
}
