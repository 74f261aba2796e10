import assert from 'node:assert/strict';
import {
  AGENT_EXTENSION,
  openTask,
  orchestratorHeaders,
  provisionAgent,
  startTestIdp,
  testKeyPair,
  type HttpResult,
  type TestIdp,
} from './support/harness.js';
import { registerNodeSamlSp } from './support/node-saml-sp.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('SCIM agents (basic)', function () {
  let idp: TestIdp;

  before(async function () {
    idp = await startTestIdp();
  });
  after(async () => idp.close());

  const scim = (method: string, path: string, body?: unknown, headers = orchestratorHeaders(idp)) =>
    idp.request({ method, path: `/scim/v2${path}`, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  function assertScimError(response: HttpResult, status: number, scimType?: string): void {
    assert.equal(response.status, status, response.body);
    assert.match(String(response.headers['content-type']), /application\/scim\+json/);
    const error = response.json<{ schemas: string[]; status: string; scimType?: string; detail: string }>();
    assert.deepEqual(error.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    assert.equal(error.status, String(status));
    assert.equal(error.scimType, scimType);
    assert.ok(error.detail.length > 0);
  }

  it('provisions an agent and returns it with the extension, certificates and the human attributes vendors send', async function () {
    const credential = await testKeyPair('provisioned');
    const created = await scim('POST', '/Users', {
      schemas: [USER, ENTERPRISE, AGENT_EXTENSION],
      userName: 'Invoice-Bot-7',
      externalId: 'okta-00u1',
      name: { givenName: 'Invoice', familyName: 'Bot' },
      emails: [{ value: 'invoice-bot@example.com', primary: true, type: 'work' }],
      [ENTERPRISE]: { department: 'Finance' },
      x509Certificates: [{ value: credential.certBase64 }],
      [AGENT_EXTENSION]: {
        owner: 'finance-platform@example.com',
        modelHash: 'sha256:deadbeef',
        sourceCommit: 'a1b2c3d',
        trainingDataVersion: 'td-7',
        sensitivityTier: 'high',
        computeZone: 'eu-central-1b',
        allowedCidrs: ['10.20.0.0/16', '127.0.0.1'],
        scopes: ['ledger:read'],
      },
    });
    assert.equal(created.status, 201, created.body);
    assert.match(String(created.headers['content-type']), /application\/scim\+json/);
    const user = created.json<Record<string, unknown> & { id: string; meta: { location: string; version: string; resourceType: string } }>();
    assert.equal(created.headers.location, user.meta.location);
    assert.equal(user.meta.resourceType, 'User');
    assert.match(user.meta.version, /^W\/"\d+"$/);
    assert.equal(user.userName, 'Invoice-Bot-7');
    assert.equal(user.active, true);
    assert.deepEqual(user.name, { givenName: 'Invoice', familyName: 'Bot' });
    assert.deepEqual(user[ENTERPRISE], { department: 'Finance' });
    assert.deepEqual(user.x509Certificates, [{ value: credential.certBase64 }]);
    assert.deepEqual((user[AGENT_EXTENSION] as Record<string, unknown>).allowedCidrs, ['10.20.0.0/16', '127.0.0.1']);
    assert.ok((user.schemas as string[]).includes(AGENT_EXTENSION));

    const read = await scim('GET', `/Users/${user.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.json(), user);
    assert.equal(read.headers.etag, user.meta.version);
  });

  it('keeps userName unique case-insensitively (409 uniqueness)', async function () {
    await provisionAgent(idp, { userName: 'Unique-Agent' });
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'unique-AGENT' }), 409, 'uniqueness');
  });

  it('refuses a malformed User with the RFC 7644 error schema', async function () {
    assertScimError(await scim('POST', '/Users', { userName: 'no-schemas' }), 400, 'invalidSyntax');
    assertScimError(await scim('POST', '/Users', { schemas: [USER] }), 400, 'invalidValue');
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'x', x509Certificates: [{ value: 'bm90IGEgY2VydA==' }] }), 400, 'invalidValue');
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'x', [AGENT_EXTENSION]: { sensitivityTier: 'secret' } }), 400, 'invalidValue');
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'x', [AGENT_EXTENSION]: { allowedCidrs: ['nowhere'] } }), 400, 'invalidValue');
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'bell\u0007' }), 400, 'invalidValue');
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'x', [AGENT_EXTENSION]: { modelHash: 'a\ud800' } }), 400, 'invalidValue');
    assertScimError(await scim('GET', '/Users/does-not-exist'), 404);
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'x' }, { 'content-type': 'application/scim+json' }), 401);
  });

  it('deactivates through the PATCH shapes Okta and Entra ID send, and reactivates', async function () {
    const agent = await provisionAgent(idp);
    const okta = await scim('PATCH', `/Users/${agent.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    assert.equal(okta.status, 204, okta.body);
    assert.equal((await scim('GET', `/Users/${agent.id}`)).json().active, false);
    const entra = await scim('PATCH', `/Users/${agent.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] }, {
      ...orchestratorHeaders(idp),
      prefer: 'return=representation',
    });
    assert.equal(entra.status, 200, entra.body);
    assert.equal(entra.json().active, true);
    assertScimError(await scim('PATCH', `/Users/${agent.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'nickname2', value: 'x' }] }), 400, 'invalidPath');
    assertScimError(await scim('PATCH', `/Users/${agent.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }), 400, 'invalidValue');
  });

  it('deletes an agent: it is gone, its task cancelled, and its certificate signs nobody on', async function () {
    const agent = await provisionAgent(idp);
    const sp = await registerNodeSamlSp(idp);
    const taskId = await openTask(idp, { agent: agent.userName });
    const deleted = await scim('DELETE', `/Users/${agent.id}`);
    assert.equal(deleted.status, 204);
    assertScimError(await scim('GET', `/Users/${agent.id}`), 404);
    const task = await idp.request({ path: `/api/v1/tasks/${taskId}`, headers: orchestratorHeaders(idp, 'application/json') });
    assert.equal(task.json().status, 'CANCELLED');
    const signOn = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(signOn.status, 403);
    assertScimError(await scim('DELETE', `/Users/${agent.id}`), 404);
  });
});
