import { randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SigningKey } from '../../lib/keys/index.js';
import { entryFromEvent } from '../../lib/audit/index.js';
import { openGroupCommitDatabase, sqliteStore } from '../../lib/store/index.js';
import { AUTHN_CONTEXT, buildSuccessResponse, type SuccessResponseInput } from '../../lib/saml/response.js';
import { qualified, signEnveloped } from '../../lib/saml/signing.js';
import { NAMEID_FORMAT, NS } from '../../lib/saml/namespaces.js';
import type { BenchSp } from './fixtures.js';

/*
 * In-process baselines, each on one core, with the IdP's own key: the raw
 * RSA operation (the limit any signer approaches), our canonical-by-
 * construction signer, xml-crypto signing the same assertion the DOM way
 * (what Tessera did before), and samlify's createLoginResponse for an
 * equivalent assertion (samlify as a user would call it: PEM key, templates).
 * Each is timed in rounds; the median round counts.
 */

export interface Baseline {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly rounds: readonly number[];
}

const ROUNDS = 5;

const ASSERTION_ATTRIBUTES = [
  { name: 'AI-Agent-ID', value: 'bench-agent-0001' },
  { name: 'Task-ID', value: '6f1c2a9e-5b7d-4e3a-9c1f-0d2e3b4a5c6d' },
  { name: 'Agent-Scope', value: 'invoices:read' },
  { name: 'Sensitivity-Tier', value: 'medium' },
  { name: 'Model-Hash', value: 'sha256:9f2c4e1b7a0d' },
  { name: 'Source-Commit', value: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f' },
  { name: 'Training-Data-Version', value: 'td-2026.11' },
  { name: 'Compute-Zone', value: 'eu-west-1a' },
];

/** The assertion a sign-on issues: eight agent attributes, assertion signed, Response not. */
export function typicalAssertion(issuer: string, sp: BenchSp, signResponse = false): SuccessResponseInput {
  const now = new Date();
  const later = new Date(now.getTime() + 300_000);
  const id = () => `_${randomBytes(20).toString('hex')}`;
  return {
    issuer,
    destination: sp.acsUrl,
    inResponseTo: undefined,
    audience: sp.entityId,
    nameId: 'bench-agent-0001',
    nameIdFormat: NAMEID_FORMAT.persistent,
    responseId: id(),
    assertionId: id(),
    sessionIndex: id(),
    issueInstant: now,
    notBefore: new Date(now.getTime() - 180_000),
    notOnOrAfter: later,
    sessionNotOnOrAfter: new Date(now.getTime() + 600_000),
    authnInstant: now,
    authnContextClassRef: AUTHN_CONTEXT.tlsClient,
    subjectAddress: '127.0.0.1',
    attributes: ASSERTION_ATTRIBUTES.map((a) => ({ name: a.name, values: [a.value] })),
    signResponse,
  };
}

/**
 * What a sign-on signs and sends: the canonical SignedInfo the RSA operation
 * covers (about 700 bytes), and the length of the JSON answer that carries
 * the base64 Response to a headless agent.
 */
export function signOnShape(key: SigningKey, issuer: string, sp: BenchSp): { readonly signedInfo: Buffer; readonly answerBytes: number } {
  const response = buildSuccessResponse(typicalAssertion(issuer, sp), key);
  const signedInfo = Buffer.from(
    response.match(/<ds:SignedInfo>.*<\/ds:SignedInfo>/)![0].replace('<ds:SignedInfo>', `<ds:SignedInfo xmlns:ds="${NS.xmldsig}">`),
    'utf8',
  );
  const answer = JSON.stringify({ acsUrl: sp.acsUrl, SAMLResponse: Buffer.from(response, 'utf8').toString('base64') });
  return { signedInfo, answerBytes: Buffer.byteLength(answer) };
}

/** A baseline's figure is its median round. */
function baselineOf(name: string, rounds: number[]): Baseline {
  const sorted = [...rounds].sort((a, b) => a - b);
  return { name, opsPerSecond: sorted[Math.floor(sorted.length / 2)]!, rounds };
}

/** Runs `work` for about `roundMs` per round, ROUNDS rounds; the median round's rate. */
async function measure(name: string, roundMs: number, work: () => unknown | Promise<unknown>): Promise<Baseline> {
  for (let i = 0; i < 50; i++) await work();
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < roundMs) {
      await work();
      count++;
    }
    rounds.push((count * 1000) / (performance.now() - start));
  }
  return baselineOf(name, rounds);
}

/** The gap between two paced signatures: one worker's share of a held 1,000/s on two workers. */
export const PACED_SIGN_GAP_MS = 2;

/**
 * One RSA signature's cost when the CPU idles between signatures, as a server's does at a
 * held rate, against back to back, alternating within each round. Each rate counts time
 * spent inside the signing call only, so the gaps do not count. On a virtual machine the
 * same work can cost more after an idle gap (caches refilled, the host's scheduling): a
 * held rate's CPU per sign-on is then partly the host's, whatever the server does.
 */
export async function pacedSignCost(privateKey: KeyObject, data: Buffer, roundMs: number): Promise<{ backToBack: Baseline; paced: Baseline }> {
  const timedSign = (): number => {
    const start = performance.now();
    sign('sha256', data, privateKey);
    return performance.now() - start;
  };
  for (let i = 0; i < 50; i++) timedSign();
  const gap = () => new Promise<void>((resolve) => setTimeout(resolve, PACED_SIGN_GAP_MS));
  const backToBack: number[] = [];
  const paced: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [rates, pause] of [
      [backToBack, undefined],
      [paced, gap],
    ] as const) {
      let signing = 0;
      let count = 0;
      const start = performance.now();
      while (performance.now() - start < roundMs / 2) {
        if (pause) await pause();
        signing += timedSign();
        count++;
      }
      rates.push((count * 1000) / signing);
    }
  }
  return {
    backToBack: baselineOf('node:crypto RSA-SHA256 sign, back to back (per second spent signing)', backToBack),
    paced: baselineOf(`node:crypto RSA-SHA256 sign, one every ${PACED_SIGN_GAP_MS} ms (per second spent signing)`, paced),
  };
}

export async function runBaselines(key: SigningKey, issuer: string, sp: BenchSp, roundMs: number, progress: (line: string) => void): Promise<{
  rawSign: Baseline;
  rawSignTwoCores: Baseline;
  rawSignBackToBack: Baseline;
  rawSignPaced: Baseline;
  canonical: Baseline;
  canonicalSignedResponse: Baseline;
  xmlCrypto: Baseline;
  samlify: Baseline;
}> {
  const { signedInfo } = signOnShape(key, issuer, sp);
  const rawSign = await measure('node:crypto RSA-SHA256 sign (KeyObject)', roundMs, () => sign('sha256', signedInfo, key.privateKey));
  progress(`baseline raw RSA-2048 sign: ${Math.round(rawSign.opsPerSecond)}/s`);
  const rawSignTwoCores = await rawSignOnThreads(key, signedInfo, 2, roundMs);
  progress(`baseline raw RSA-2048 sign on two threads at once: ${Math.round(rawSignTwoCores.opsPerSecond)}/s in all`);
  const signCost = await pacedSignCost(key.privateKey, signedInfo, roundMs);
  progress(
    `baseline raw RSA-2048 sign, time inside the call: ${Math.round(1e6 / signCost.backToBack.opsPerSecond)} µs back to back, ` +
      `${Math.round(1e6 / signCost.paced.opsPerSecond)} µs one every ${PACED_SIGN_GAP_MS} ms`,
  );

  const canonical = await measure('Tessera canonical signer (assertion signed)', roundMs, () =>
    buildSuccessResponse(typicalAssertion(issuer, sp), key),
  );
  progress(`baseline Tessera canonical signer: ${Math.round(canonical.opsPerSecond)}/s`);
  const canonicalSignedResponse = await measure('Tessera canonical signer (assertion and Response signed)', roundMs, () =>
    buildSuccessResponse(typicalAssertion(issuer, sp, true), key),
  );

  const assertionXPath = `/${qualified(NS.protocol, 'Response')}/${qualified(NS.assertion, 'Assertion')}`;
  // The same assertion, unsigned, signed the DOM way: parse, canonicalise, digest, sign, serialise.
  const unsigned = buildSuccessResponse(typicalAssertion(issuer, sp), key).replace(/<ds:Signature .*<\/ds:Signature>/, '');
  const xmlCryptoOnly = await measure('xml-crypto SignedXml (same assertion)', roundMs, () =>
    signEnveloped(unsigned, { element: assertionXPath, after: `${assertionXPath}/${qualified(NS.assertion, 'Issuer')}` }, key),
  );
  progress(`baseline xml-crypto: ${Math.round(xmlCryptoOnly.opsPerSecond)}/s`);

  const samlifyBaseline = await measure('samlify createLoginResponse (equivalent assertion)', roundMs, samlifyLoginResponse(key, issuer, sp));
  progress(`baseline samlify createLoginResponse: ${Math.round(samlifyBaseline.opsPerSecond)}/s`);
  return { rawSign, rawSignTwoCores, rawSignBackToBack: signCost.backToBack, rawSignPaced: signCost.paced, canonical, canonicalSignedResponse, xmlCrypto: xmlCryptoOnly, samlify: samlifyBaseline };
}

/**
 * The two baselines the issue's ratios divide by, measured again right before
 * a one-core round, by the caller pinned to that round's CPU: the host's speed
 * drifts by tens of percent within a run, so a round is compared with what the
 * same CPU did moments before rather than with the start of the run.
 */
export async function runRatioBaselines(key: SigningKey, issuer: string, sp: BenchSp, roundMs: number, label: string): Promise<RatioBaselines> {
  const { signedInfo } = signOnShape(key, issuer, sp);
  const rawSign = await measure(`node:crypto RSA-SHA256 sign (KeyObject), ${label}`, roundMs, () => sign('sha256', signedInfo, key.privateKey));
  const samlify = await measure(`samlify createLoginResponse (equivalent assertion), ${label}`, roundMs, samlifyLoginResponse(key, issuer, sp));
  return { rawSign, samlify };
}

export interface RatioBaselines {
  readonly rawSign: Baseline;
  readonly samlify: Baseline;
}

/**
 * The raw operation on `threads` threads at once, summed: how far this
 * machine's cores scale for pure computation, the ceiling for any server
 * figure on several cores.
 */
async function rawSignOnThreads(key: SigningKey, data: Buffer, threads: number, roundMs: number): Promise<Baseline> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createPrivateKey, sign } = require('node:crypto');
    const key = createPrivateKey(workerData.pem);
    const data = Buffer.from(workerData.data, 'base64');
    for (let i = 0; i < 50; i++) sign('sha256', data, key);
    const rounds = [];
    for (let round = 0; round < workerData.rounds; round++) {
      let count = 0;
      const start = performance.now();
      while (performance.now() - start < workerData.roundMs) { sign('sha256', data, key); count++; }
      rounds.push((count * 1000) / (performance.now() - start));
    }
    parentPort.postMessage(rounds);
  `;
  const perThread = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number[]>((resolve, reject) => {
          const worker = new Worker(source, { eval: true, workerData: { pem: key.privateKeyPem, data: data.toString('base64'), rounds: ROUNDS, roundMs } });
          worker.once('message', (rounds: number[]) => resolve(rounds));
          worker.once('error', reject);
        }),
    ),
  );
  const rounds = Array.from({ length: ROUNDS }, (_, i) => perThread.reduce((sum, thread) => sum + (thread[i] ?? 0), 0));
  return baselineOf(`node:crypto RSA-SHA256 sign, ${threads} threads at once (sum)`, rounds);
}

/**
 * The part of samlify the baseline calls. Loaded with require so its type
 * declarations (which pull the DOM library into the whole compilation through
 * their xmldom 0.8) stay out of the build.
 */
interface Samlify {
  SamlLib: {
    defaultLoginResponseTemplate: { context: string };
    attributeStatementBuilder(attributes: ReadonlyArray<Record<string, string>>): string;
    replaceTagsByValue(template: string, values: Record<string, string>): string;
  };
  IdentityProvider(settings: Record<string, unknown>): {
    createLoginResponse(
      sp: unknown,
      requestInfo: Record<string, unknown>,
      binding: 'post',
      user: Record<string, unknown>,
      customTagReplacement: (template: string) => { id: string; context: string },
    ): Promise<unknown>;
  };
  ServiceProvider(settings: Record<string, unknown>): unknown;
}

const samlify = createRequire(import.meta.url)('samlify') as Samlify;

/** samlify configured as its documentation shows: IdP with PEM key and a login-response template carrying the same attributes. */
function samlifyLoginResponse(key: SigningKey, issuer: string, sp: BenchSp): () => Promise<unknown> {
  const idpMetadata =
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${issuer}">` +
    '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${key.certificateBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>' +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${issuer.replace(/metadata$/, 'sso')}"/>` +
    '</md:IDPSSODescriptor></md:EntityDescriptor>';
  const attributes = ASSERTION_ATTRIBUTES.map((a, i) => ({
    name: a.name,
    valueTag: `value${i}`,
    nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    valueXsiType: 'xs:string',
  }));
  const authnStatement =
    '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}" SessionNotOnOrAfter="{ConditionsNotOnOrAfter}">' +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${AUTHN_CONTEXT.tlsClient}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
  const template = samlify.SamlLib.defaultLoginResponseTemplate.context
    .replace('{AuthnStatement}', authnStatement)
    .replace('{AttributeStatement}', samlify.SamlLib.attributeStatementBuilder(attributes));
  const idp = samlify.IdentityProvider({
    metadata: idpMetadata,
    privateKey: key.privateKeyPem,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    loginResponseTemplate: { context: template, attributes },
  });
  const serviceProvider = samlify.ServiceProvider({ metadata: sp.metadataXml });
  let n = 0;
  const fill = (context: string) => {
    n += 1;
    const now = new Date();
    const later = new Date(now.getTime() + 300_000).toISOString();
    const values: Record<string, string> = {
      ID: `_r${n}_${randomBytes(8).toString('hex')}`,
      AssertionID: `_a${n}_${randomBytes(8).toString('hex')}`,
      Destination: sp.acsUrl,
      Audience: sp.entityId,
      SubjectRecipient: sp.acsUrl,
      Issuer: issuer,
      IssueInstant: now.toISOString(),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later,
      SubjectConfirmationDataNotOnOrAfter: later,
      NameIDFormat: NAMEID_FORMAT.persistent,
      NameID: 'bench-agent-0001',
      InResponseTo: '',
      SessionIndex: `_s${n}`,
    };
    ASSERTION_ATTRIBUTES.forEach((a, i) => {
      values[`attrValue${i}`] = a.value;
    });
    return { id: values.ID!, context: samlify.SamlLib.replaceTagsByValue(context, values) };
  };
  return () => idp.createLoginResponse(serviceProvider, {}, 'post', {}, fill);
}

/**
 * The two writes every sign-on makes, one at a time on the sign-on path's
 * connection (synchronous=NORMAL; the WAL sync is shared and off the event
 * loop, so it is not counted): the session write and the hash-chained audit
 * append. Measured in a scratch data directory.
 */
export async function runStorageBaselines(scratchDir: string, roundMs: number, progress: (line: string) => void): Promise<{
  sessionWrite: Baseline;
  auditAppend: Baseline;
}> {
  const database = openGroupCommitDatabase(scratchDir);
  try {
    const store = sqliteStore(database.db);
    const now = new Date();
    const agent = await store.agents.create(
      {
        id: randomUUID(),
        userName: 'baseline-agent',
        active: true,
        externalId: undefined,
        profile: {
          owner: undefined,
          modelHash: 'sha256:9f2c4e1b7a0d',
          sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f',
          trainingDataVersion: 'td-2026.11',
          sensitivityTier: 'medium',
          computeZone: 'eu-west-1a',
          allowedCidrs: [],
          scopes: ['invoices:read'],
        },
        extraAttributes: {},
        certificates: [],
      },
      now,
    );
    const tasks: string[] = [];
    for (let i = 0; i < 100; i++) {
      const task = await store.tasks.create({
        id: randomUUID(),
        agentId: agent.id,
        scopes: ['invoices:read'],
        tier: 'medium',
        audiences: [],
        context: { cidrs: [], computeZone: undefined },
        status: 'OPEN',
        createdAt: now,
        expiresAt: new Date(now.getTime() + 86_400_000),
        endedAt: undefined,
      });
      tasks.push(task.id);
    }
    let n = 0;
    const sessionWrite = await measure('session write (openOrRefresh, 100 tasks)', roundMs, () => {
      const at = new Date();
      n += 1;
      return store.sessions.openOrRefresh(
        {
          id: randomUUID(),
          sessionIndex: `_${randomBytes(20).toString('hex')}`,
          agentId: agent.id,
          taskId: tasks[n % tasks.length]!,
          spEntityId: 'https://sp.bench.example/saml',
          nameId: 'baseline-agent',
          nameIdFormat: NAMEID_FORMAT.persistent,
          assertionId: `_${randomBytes(20).toString('hex')}`,
          authnMethod: 'mtls',
          createdAt: at,
          expiresAt: new Date(at.getTime() + 600_000),
          revokedAt: undefined,
          revokeReason: undefined,
        },
        at,
        new Date(at.getTime() - 300_000),
      );
    });
    progress(`baseline session write: ${Math.round(sessionWrite.opsPerSecond)}/s`);
    const auditAppend = await measure('audit append (hash-chained, one entry per transaction)', roundMs, () =>
      store.audit.append([
        entryFromEvent(
          {
            event: 'signon.issued',
            actor: 'agent:baseline-agent',
            agent: { id: agent.id, userName: 'baseline-agent', modelHash: 'sha256:9f2c4e1b7a0d', sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f', trainingDataVersion: 'td-2026.11' },
            taskId: tasks[n % tasks.length]!,
            spEntityId: 'https://sp.bench.example/saml',
            assertionId: `_${randomBytes(20).toString('hex')}`,
            sessionId: randomUUID(),
            details: { authnMethod: 'mtls', flow: 'idp-initiated', scopes: ['invoices:read'], sessionRefreshed: true, sourceAddress: '127.0.0.1' },
          },
          new Date(),
        ),
      ]),
    );
    progress(`baseline audit append: ${Math.round(auditAppend.opsPerSecond)}/s`);
    await database.durable();
    return { sessionWrite, auditAppend };
  } finally {
    database.close();
  }
}
