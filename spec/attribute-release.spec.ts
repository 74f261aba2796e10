import assert from 'node:assert/strict';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { parseSpMetadata } from '../lib/saml/sp-metadata.js';
import { openTask, provisionAgent, startTestIdp, type TestAgent, type TestIdp } from './support/harness.js';
import { writeConfig } from './support/lifecycle-tools.js';

const MINIMAL_SP = 'https://minimal.example.test/saml';
const FULL_SP = 'https://full.example.test/saml';
const SCOPED_SP = 'https://scoped.example.test/saml';

const CONFIG = `
policy:
  serviceProviders:
    "${MINIMAL_SP}":
      releaseAttributes: [AI-Agent-ID, Task-ID]
    "${SCOPED_SP}":
      allowedScopes: [reports:read]
      releaseAttributes: [AI-Agent-ID, Agent-Scope]
`;

/** node-saml as an independent SP with a fixed entityID (the policy names it), registered from its own metadata. */
async function nodeSamlSp(idp: TestIdp, entityId: string): Promise<SAML> {
  const saml = new SAML({
    entryPoint: `${idp.baseUrl}/saml/sso`,
    issuer: entityId,
    callbackUrl: entityId.replace(/\/saml$/, '/saml/acs'),
    idpCert: idp.signingCertificatePem,
    idpIssuer: `${idp.baseUrl}/saml/metadata`,
    audience: entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    disableRequestedAuthnContext: true,
    validateInResponseTo: ValidateInResponseTo.never,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
  });
  const metadata = saml.generateServiceProviderMetadata(null, null);
  await idp.running.idp.store.serviceProviders.register(parseSpMetadata(metadata, { signResponse: true, now: new Date() }), false);
  return saml;
}

describe('per-SP attribute release', function () {
  let idp: TestIdp;
  let agent: TestAgent;
  const sps = new Map<string, SAML>();

  before(async function () {
    idp = await startTestIdp({ env: { TESSERA_CONFIG: writeConfig(CONFIG) } });
    agent = await provisionAgent(idp, { profile: { modelHash: 'sha256:abc', sourceCommit: 'c0ffee', trainingDataVersion: 'td-1', computeZone: 'eu-west-1a' } });
    for (const entityId of [MINIMAL_SP, FULL_SP, SCOPED_SP]) sps.set(entityId, await nodeSamlSp(idp, entityId));
  });
  after(async () => idp.close());

  async function attributesAt(entityId: string, taskId: string): Promise<Record<string, unknown>> {
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    const { profile } = await sps.get(entityId)!.validatePostResponseAsync({ SAMLResponse: response.json<{ SAMLResponse: string }>().SAMLResponse });
    return (profile?.attributes ?? {}) as Record<string, unknown>;
  }

  const TABLE: Array<{ sp: string; expected: Record<string, unknown> }> = [
    { sp: MINIMAL_SP, expected: { 'AI-Agent-ID': 'AGENT', 'Task-ID': 'TASK' } },
    { sp: SCOPED_SP, expected: { 'AI-Agent-ID': 'AGENT', 'Agent-Scope': 'reports:read' } },
    {
      sp: FULL_SP,
      expected: {
        'AI-Agent-ID': 'AGENT',
        'Task-ID': 'TASK',
        'Agent-Scope': ['invoices:read', 'reports:read'],
        'Sensitivity-Tier': 'medium',
        'Model-Hash': 'sha256:abc',
        'Source-Commit': 'c0ffee',
        'Training-Data-Version': 'td-1',
        'Compute-Zone': 'eu-west-1a',
      },
    },
  ];
  for (const row of TABLE) {
    it(`${row.sp} receives exactly ${Object.keys(row.expected).join(', ')}`, async function () {
      const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read', 'reports:read'] });
      const attributes = await attributesAt(row.sp, taskId);
      const expected = JSON.parse(JSON.stringify(row.expected).replaceAll('"AGENT"', JSON.stringify(agent.userName)).replaceAll('"TASK"', JSON.stringify(taskId)));
      assert.deepEqual(attributes, expected);
    });
  }

  it('refuses a sign-on whose task has no scope the SP may receive', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read'] });
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(SCOPED_SP)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 403, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, /status:RequestDenied/);
    // The reason (scope_not_allowed_for_sp) goes to the audit log; the SP learns only that policy refused.
    assert.equal(/<samlp:StatusMessage>([^<]*)</.exec(xml)?.[1], 'the request was refused by policy');
  });
});
