import assert from 'node:assert/strict';
import { openTask, orchestratorHeaders, provisionAgent, startTestIdp, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ROLE = 'urn:tessera:scim:schemas:extension:role:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type GroupResource = { id: string; displayName: string; members: { value: string; display: string; type: string; $ref: string }[]; meta: { version: string } } & Record<string, unknown>;

describe('SCIM Groups as roles that grant scopes', function () {
  let idp: TestIdp;
  let sp: NodeSamlSp;
  const scim = (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) =>
    idp.request({ method, path: `/scim/v2${path}`, headers: { ...orchestratorHeaders(idp), ...extra }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const patchGroup = (id: string, operations: unknown[], extra: Record<string, string> = {}) => scim('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: operations }, extra);
  const getGroup = async (id: string) => (await scim('GET', `/Groups/${id}`)).json<GroupResource>();

  async function createRole(displayName: string, scopes: string[], members: string[] = []): Promise<GroupResource> {
    const created = await scim('POST', '/Groups', { schemas: [GROUP, ROLE], displayName, members: members.map((value) => ({ value })), [ROLE]: { scopes } });
    assert.equal(created.status, 201, created.body);
    return created.json<GroupResource>();
  }

  /** The Agent-Scope values of the assertion an IdP-initiated sign-on yields. */
  async function signOnScopes(agent: TestAgent, taskId: string): Promise<string[]> {
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    const attribute = /<saml:Attribute Name="Agent-Scope"[^>]*>(.*?)<\/saml:Attribute>/s.exec(xml)?.[1] ?? '';
    return [...attribute.matchAll(/<saml:AttributeValue[^>]*>([^<]*)<\/saml:AttributeValue>/g)].map((m) => m[1]!).sort();
  }

  function assertScimError(response: HttpResult, status: number, scimType?: string): void {
    assert.equal(response.status, status, response.body);
    assert.equal(response.json<{ scimType?: string }>().scimType, scimType);
  }

  before(async function () {
    idp = await startTestIdp();
    sp = await registerNodeSamlSp(idp);
  });
  after(async () => idp.close());

  it('grants a role’s scopes to its members; leaving the role narrows the next sign-on and future tasks', async function () {
    const agent = await provisionAgent(idp, { profile: { scopes: ['invoices:read'] } });
    const refusedBefore = await idp.request({
      method: 'POST',
      path: '/api/v1/tasks',
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ agent: agent.userName, scopes: ['ledger:write'], tier: 'low' }),
    });
    assert.equal(refusedBefore.status, 403, refusedBefore.body);

    const role = await createRole('ledger-writers', ['ledger:write', 'ledger:read'], [agent.id]);
    const user = (await scim('GET', `/Users/${agent.id}`)).json<{ groups: { value: string; display: string }[] }>();
    assert.deepEqual(user.groups.map((g) => [g.value, g.display]), [[role.id, 'ledger-writers']]);

    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read', 'ledger:write'] });
    assert.deepEqual(await signOnScopes(agent, taskId), ['invoices:read', 'ledger:write']);

    const removed = await patchGroup(role.id, [{ op: 'remove', path: `members[value eq "${agent.id}"]` }]);
    assert.equal(removed.status, 204, removed.body);
    assert.deepEqual(await signOnScopes(agent, taskId), ['invoices:read'], 'the same task, signed on again, carries only what is still granted');
    const refusedAfter = await idp.request({
      method: 'POST',
      path: '/api/v1/tasks',
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ agent: agent.userName, scopes: ['ledger:write'], tier: 'low' }),
    });
    assert.equal(refusedAfter.status, 403);
  });

  it('takes the membership PATCH shapes Okta and Entra ID send, and Okta’s rename', async function () {
    const [a, b, c] = [await provisionAgent(idp), await provisionAgent(idp), await provisionAgent(idp)];
    const role = await createRole('reporters', ['reports:read']);
    assert.equal((await patchGroup(role.id, [{ op: 'add', path: 'members', value: [{ value: a.id, display: a.userName }, { value: b.id }] }])).status, 204);
    assert.equal((await patchGroup(role.id, [{ op: 'Add', path: 'members', value: [{ value: c.id }, { value: a.id }] }])).status, 204, 'adding a member twice is no change');
    assert.deepEqual((await getGroup(role.id)).members.map((m) => m.value), [a.id, b.id, c.id]);
    assert.equal((await patchGroup(role.id, [{ op: 'Remove', path: 'members', value: [{ value: b.id }] }])).status, 204, 'Entra removes by value list');
    assert.equal((await patchGroup(role.id, [{ op: 'replace', value: { id: role.id, displayName: 'report-readers' } }])).status, 204, 'Okta renames with the id in the value');
    const group = await getGroup(role.id);
    assert.equal(group.displayName, 'report-readers');
    assert.deepEqual(group.members.map((m) => [m.value, m.display, m.type]), [[a.id, a.userName, 'User'], [c.id, c.userName, 'User']]);
    assert.match(group.members[0]!.$ref, new RegExp(`/scim/v2/Users/${a.id}$`));

    const excluded = (await scim('GET', `/Groups/${role.id}?excludedAttributes=members`)).json<GroupResource>();
    assert.equal(excluded.members, undefined);
    assert.equal(excluded.displayName, 'report-readers');
    const found = (await scim('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "REPORT-READERS" and members[value eq "${c.id}"]`)}&excludedAttributes=members`)).json<{ totalResults: number }>();
    assert.equal(found.totalResults, 1);

    assert.equal((await patchGroup(role.id, [{ op: 'remove', path: 'members' }])).status, 204);
    assert.deepEqual((await getGroup(role.id)).members, []);
  });

  it('refuses members that are not Users of this server, nested groups and bad scopes, changing nothing', async function () {
    const role = await createRole('strict', ['a:b']);
    assertScimError(await patchGroup(role.id, [{ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }]), 400, 'invalidValue');
    assertScimError(await patchGroup(role.id, [{ op: 'add', path: 'members', value: [{ value: role.id, type: 'Group' }] }]), 400, 'invalidValue');
    assertScimError(await patchGroup(role.id, [{ op: 'add', path: 'members', value: 'string id 1' }]), 400, 'invalidValue');
    assertScimError(await patchGroup(role.id, [{ op: 'replace', path: `${ROLE}:scopes`, value: ['has space'] }]), 400, 'invalidValue');
    assertScimError(await patchGroup(role.id, [{ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' }]), 400, 'mutability');
    assertScimError(await scim('POST', '/Groups', { schemas: [GROUP, ROLE], displayName: 'typo', [ROLE]: { scope: ['x'] } }), 400, 'invalidSyntax');
    const after = await getGroup(role.id);
    assert.equal(after.meta.version, 'W/"1"');
    assert.deepEqual(after[ROLE], { scopes: ['a:b'] });
  });

  it('holds more members than the 100-value cap that other multi-valued attributes have', async function () {
    const ids: string[] = [];
    for (let i = 0; i < 120; i += 1) {
      const created = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `bulk-member-${i}` });
      ids.push(created.json<{ id: string }>().id);
    }
    const role = await createRole('crowd', ['crowd:read'], ids);
    assert.equal(role.members.length, 120);
    const list = (await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "crowd"')}&attributes=displayName`)).json<{ Resources: Record<string, unknown>[] }>();
    assert.deepEqual(Object.keys(list.Resources[0]!).sort(), ['displayName', 'id', 'schemas']);
  });

  it('replaces with PUT under If-Match and deletes; an agent loses a deleted role’s scopes', async function () {
    const agent = await provisionAgent(idp, { profile: { scopes: [] } });
    const role = await createRole('temporary', ['tmp:use'], [agent.id]);
    assertScimError(await scim('PUT', `/Groups/${role.id}`, { schemas: [GROUP], displayName: 'x' }, { 'if-match': 'W/"7"' }), 412);
    const put = await scim('PUT', `/Groups/${role.id}`, { schemas: [GROUP, ROLE], displayName: 'renamed', members: [{ value: agent.id }], [ROLE]: { scopes: ['tmp:use', 'tmp:more'] } }, { 'if-match': role.meta.version });
    assert.equal(put.status, 200, put.body);
    assert.equal(put.headers.etag, 'W/"2"');
    assert.deepEqual((await idp.running.idp.store.agents.get(agent.id))!.grantedScopes, ['tmp:use', 'tmp:more']);
    assert.equal((await scim('DELETE', `/Groups/${role.id}`)).status, 204);
    assert.deepEqual((await idp.running.idp.store.agents.get(agent.id))!.grantedScopes, []);
    assert.equal((await scim('GET', `/Groups/${role.id}`)).status, 404);
  });
});
