import assert from 'node:assert/strict';
import { AGENT_EXTENSION, orchestratorHeaders, provisionAgent, startTestIdp, testKeyPair, type HttpResult, type TestIdp } from './support/harness.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

type Resource = Record<string, unknown> & { id: string; meta: { version: string; location: string }; userName: string };

describe('SCIM Users: queries, replace, PATCH, ETags and hardening', function () {
  let idp: TestIdp;
  const scim = (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) =>
    idp.request({ method, path: `/scim/v2${path}`, headers: { ...orchestratorHeaders(idp), ...extra }, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const patch = (id: string, operations: unknown[], extra: Record<string, string> = {}) => scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: operations }, extra);
  const get = async (id: string) => (await scim('GET', `/Users/${id}`)).json<Resource>();

  function assertScimError(response: HttpResult, status: number, scimType?: string): void {
    assert.equal(response.status, status, response.body);
    assert.match(String(response.headers['content-type']), /application\/scim\+json/);
    const error = response.json<{ schemas: string[]; status: string; scimType?: string }>();
    assert.deepEqual(error.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    assert.equal(error.status, String(status));
    assert.equal(error.scimType, scimType);
  }

  async function human(userName: string, extra: Record<string, unknown> = {}): Promise<Resource> {
    const created = await scim('POST', '/Users', {
      schemas: [USER, ENTERPRISE],
      userName,
      name: { givenName: userName.split('.')[0], familyName: 'Employee' },
      emails: [{ value: `${userName}@example.com`, type: 'work', Primary: true }],
      [ENTERPRISE]: { Department: 'Finance' },
      ...extra,
    });
    assert.equal(created.status, 201, created.body);
    return created.json<Resource>();
  }

  before(async function () {
    idp = await startTestIdp();
  });
  after(async () => idp.close());

  it('lists with filter, sortBy/sortOrder, startIndex/count and attributes, as a ListResponse', async function () {
    await human('carol.q');
    await human('alice.q', { displayName: 'Alice' });
    await human('bob.q', { active: 'False' });
    const list = await scim('GET', `/Users?filter=${encodeURIComponent('userName ew ".q" and active eq true')}&sortBy=userName&sortOrder=descending`);
    assert.equal(list.status, 200, list.body);
    const body = list.json<{ schemas: string[]; totalResults: number; itemsPerPage: number; startIndex: number; Resources: Resource[] }>();
    assert.deepEqual(body.schemas, [LIST]);
    assert.deepEqual(body.Resources.map((r) => r.userName), ['carol.q', 'alice.q']);
    assert.equal(body.totalResults, 2);

    const page = (await scim('GET', `/Users?filter=${encodeURIComponent('userName ew ".q"')}&sortBy=userName&startIndex=2&count=1&attributes=userName,name.givenName`)).json<{
      totalResults: number;
      itemsPerPage: number;
      startIndex: number;
      Resources: Record<string, unknown>[];
    }>();
    assert.equal(page.totalResults, 3);
    assert.equal(page.startIndex, 2);
    assert.equal(page.itemsPerPage, 1);
    assert.deepEqual(Object.keys(page.Resources[0]!).sort(), ['id', 'name', 'schemas', 'userName']);
    assert.deepEqual(page.Resources[0]!.name, { givenName: 'bob' });

    const excluded = (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "ALICE.Q"')}&excludedAttributes=emails,${ENTERPRISE}`)).json<{ Resources: Record<string, unknown>[] }>();
    assert.equal(excluded.Resources.length, 1);
    assert.equal(excluded.Resources[0]!.emails, undefined);
    assert.equal(excluded.Resources[0]![ENTERPRISE], undefined);
    assert.equal(excluded.Resources[0]!.displayName, 'Alice');

    const searched = await scim('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: `${ENTERPRISE}:department eq "finance" and userName sw "a"`,
      attributes: ['userName'],
    });
    assert.equal(searched.status, 200, searched.body);
    assert.deepEqual(searched.json<{ Resources: Resource[] }>().Resources.map((r) => r.userName), ['alice.q']);
  });

  it('canonicalises attribute names and keeps human attributes; drops unknown and readOnly ones', async function () {
    const created = await human('dana.q', { nickname2: 'ignored', id: 'chosen-by-client', meta: { version: 'W/"99"' }, groups: [{ value: 'x' }] });
    assert.notEqual(created.id, 'chosen-by-client');
    assert.equal(created.meta.version, 'W/"1"');
    assert.equal(created.nickname2, undefined);
    assert.equal(created.groups, undefined);
    assert.deepEqual(created.emails, [{ value: 'dana.q@example.com', type: 'work', primary: true }]);
    assert.deepEqual(created[ENTERPRISE], { department: 'Finance' });
  });

  it('replaces with PUT: omitted attributes go, an omitted active is kept, a left-out certificate is retired', async function () {
    const first = await testKeyPair('put-1');
    const second = await testKeyPair('put-2');
    const agent = await provisionAgent(idp, { credential: first });
    assert.equal((await patch(agent.id, [{ op: 'replace', path: 'active', value: false }])).status, 204);
    const put = await scim('PUT', `/Users/${agent.id}`, {
      schemas: [USER, AGENT_EXTENSION],
      userName: agent.userName,
      displayName: 'Replaced',
      x509Certificates: [{ value: second.certBase64 }],
      [AGENT_EXTENSION]: { scopes: ['ledger:read'] },
    });
    assert.equal(put.status, 200, put.body);
    const replaced = put.json<Resource>();
    assert.equal(replaced.active, false, 'a PUT without active does not reactivate');
    assert.equal(replaced.displayName, 'Replaced');
    assert.deepEqual(replaced.x509Certificates, [{ value: second.certBase64 }]);
    assert.deepEqual(replaced[AGENT_EXTENSION], { scopes: ['ledger:read'] });
    assert.equal(put.headers.etag, 'W/"3"');
    assert.equal((await idp.running.idp.store.agents.findByCertificate((await idp.running.idp.store.agents.get(agent.id))!.certificates[0]!.thumbprint)), undefined);

    // Re-sending the retired certificate must not undo the rotation.
    const resend = await scim('PUT', `/Users/${agent.id}`, {
      schemas: [USER],
      userName: agent.userName,
      x509Certificates: [{ value: second.certBase64 }, { value: first.certBase64 }],
    });
    assert.equal(resend.status, 400, resend.body);
    assert.match(resend.json<{ detail: string }>().detail, /retired/);
    assert.deepEqual((await get(agent.id)).x509Certificates, [{ value: second.certBase64 }], 'nothing changed');
  });

  it('applies the PATCH shapes Entra ID and Okta send', async function () {
    const created = await human('erin.q');
    const entra = await patch(created.id, [
      { op: 'Replace', value: { displayName: 'Erin', 'name.givenName': 'Erin', [`${ENTERPRISE}:department`]: 'Ops', active: 'False' } },
      { op: 'Add', path: 'emails[type eq "home"].value', value: 'erin@home.example' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'erin@work.example' },
    ]);
    assert.equal(entra.status, 204, entra.body);
    let user = await get(created.id);
    assert.equal(user.displayName, 'Erin');
    assert.equal((user.name as Record<string, string>).givenName, 'Erin');
    assert.equal((user[ENTERPRISE] as Record<string, string>).department, 'Ops');
    assert.equal(user.active, false);
    assert.deepEqual(user.emails, [
      { value: 'erin@work.example', type: 'work', primary: true },
      { type: 'home', value: 'erin@home.example' },
    ]);
    const okta = await patch(created.id, [{ op: 'replace', value: { active: true } }], { prefer: 'return=representation' });
    assert.equal(okta.status, 200);
    assert.equal(okta.json<Resource>().active, true);
    const removed = await patch(created.id, [{ op: 'remove', path: 'emails[type eq "home"]' }, { op: 'remove', path: 'name.givenName' }]);
    assert.equal(removed.status, 204);
    user = await get(created.id);
    assert.equal((user.emails as unknown[]).length, 1);
    assert.deepEqual(user.name, { familyName: 'Employee' });
    assertScimError(await patch(created.id, [{ op: 'replace', path: 'emails[type eq "pager"].value', value: 'x' }]), 400, 'noTarget');
    assertScimError(await patch(created.id, [{ op: 'remove' }]), 400, 'noTarget');
  });

  it('honours meta.version: ETag on reads, 304 on If-None-Match, 412 on a stale If-Match with nothing changed', async function () {
    const created = await human('frank.q');
    const read = await scim('GET', `/Users/${created.id}`);
    assert.equal(read.headers.etag, 'W/"1"');
    assert.equal((await scim('GET', `/Users/${created.id}`, undefined, { 'if-none-match': 'W/"1"' })).status, 304);
    assert.equal((await patch(created.id, [{ op: 'replace', path: 'displayName', value: 'v2' }], { 'if-match': 'W/"1"' })).status, 204);
    assertScimError(await patch(created.id, [{ op: 'replace', path: 'displayName', value: 'stale' }], { 'if-match': 'W/"1"' }), 412);
    assertScimError(await scim('PUT', `/Users/${created.id}`, { schemas: [USER], userName: 'stale' }, { 'if-match': 'W/"1"' }), 412);
    assertScimError(await scim('DELETE', `/Users/${created.id}`, undefined, { 'if-match': '"1"' }), 412);
    assertScimError(await patch(created.id, [{ op: 'replace', path: 'displayName', value: 'stale' }], { 'if-match': 'garbage' }), 412);
    const after = await get(created.id);
    assert.equal(after.displayName, 'v2');
    assert.equal(after.userName, 'frank.q');
    assert.equal(after.meta.version, 'W/"2"');
    assert.equal((await scim('DELETE', `/Users/${created.id}`, undefined, { 'if-match': 'W/"2"' })).status, 204);
  });

  it('refuses PATCH on id, meta, groups, unknown paths, __proto__ and constructor.prototype, changing nothing and polluting nothing', async function () {
    const created = await human('gina.q');
    const attempts: [unknown[], string][] = [
      [[{ op: 'replace', path: 'id', value: 'mine' }], 'mutability'],
      [[{ op: 'replace', path: 'meta.version', value: 'W/"9"' }], 'mutability'],
      [[{ op: 'remove', path: 'meta' }], 'mutability'],
      [[{ op: 'add', path: 'groups', value: [{ value: 'g' }] }], 'mutability'],
      [[{ op: 'replace', value: { id: 'someone-else' } }], 'mutability'],
      [[{ op: 'add', path: 'nickname2', value: 'x' }], 'invalidPath'],
      [[{ op: 'add', path: '__proto__', value: { polluted: true } }], 'invalidPath'],
      [[{ op: 'add', path: '__proto__.polluted', value: true }], 'invalidPath'],
      [[{ op: 'add', path: 'constructor.prototype', value: { polluted: true } }], 'invalidPath'],
      [[{ op: 'replace', path: 'name.__proto__', value: { polluted: true } }], 'invalidPath'],
      [[{ op: 'replace', path: 'displayName', value: 'ok' }, { op: 'add', value: JSON.parse('{"__proto__": {"polluted": true}}') as unknown }], 'invalidPath'],
      [[{ op: 'add', value: { constructor: { prototype: { polluted: true } } } }], 'invalidPath'],
    ];
    for (const [operations, scimType] of attempts) assertScimError(await patch(created.id, operations), 400, scimType);
    const polluted = await patch(created.id, [{ op: 'add', path: 'name', value: JSON.parse('{"givenName":"g","__proto__":{"polluted":true}}') as unknown }]);
    assert.equal(polluted.status, 204, 'unknown sub-attributes of a core attribute are dropped');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    const after = await get(created.id);
    assert.equal(after.displayName, undefined, 'a failing operation undoes the whole request');
    assert.equal(after.meta.version, 'W/"2"');
    assert.equal(Object.getPrototypeOf(after.name), Object.prototype);
    assert.deepEqual(after.name, { givenName: 'g', familyName: 'Employee' });
  });

  it('refuses filter injection over HTTP with 400 invalidFilter', async function () {
    for (const filter of ['userName eq "x" or 1=1', 'userName eq "x" or "1"="1"', 'nope eq "x"', '('.repeat(1_000) + 'userName pr' + ')'.repeat(1_000), 'userName eq x']) {
      assertScimError(await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
    }
    // 10,000 levels do not fit in a URL (Node answers 431); they do fit in a SearchRequest body.
    const deep = '('.repeat(10_000) + 'userName pr' + ')'.repeat(10_000);
    assertScimError(await scim('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: deep }), 400, 'invalidFilter');
    assertScimError(await scim('POST', '/Groups/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'members[value eq "a" or 1=1]' }), 400, 'invalidFilter');
  });

  it('caps bodies, takes the bearer token only from the Authorization header, and answers SCIM JSON errors', async function () {
    assertScimError(await scim('POST', '/Users', JSON.stringify({ schemas: [USER], userName: 'big', title: 'x'.repeat(300 * 1024) })), 413);
    assertScimError(await scim('POST', '/Users', '{"schemas": [', {}), 400, 'invalidSyntax');
    const viaQuery = await idp.request({ path: `/scim/v2/Users?access_token=${idp.orchestratorToken}`, headers: { accept: 'application/scim+json' } });
    assertScimError(viaQuery, 401);
    assert.match(String(viaQuery.headers['www-authenticate']), /^Bearer/);
    assertScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'plain' }, { 'content-type': 'text/plain' }), 415);
    const many = Array.from({ length: 101 }, () => ({ op: 'replace', path: 'displayName', value: 'x' }));
    const created = await human('hugo.q');
    assertScimError(await patch(created.id, many), 400, 'invalidSyntax');
  });

  it('describes exactly what it supports at /ServiceProviderConfig, /ResourceTypes and /Schemas', async function () {
    const config = (await scim('GET', '/ServiceProviderConfig')).json<Record<string, { supported: boolean }>>();
    assert.deepEqual(
      ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag'].map((k) => config[k]!.supported),
      [true, false, true, false, true, true],
    );
    const types = (await scim('GET', '/ResourceTypes')).json<{ Resources: { endpoint: string; schemaExtensions: { schema: string }[] }[] }>();
    assert.deepEqual(types.Resources.map((r) => r.endpoint), ['/Users', '/Groups']);
    assert.deepEqual(types.Resources[0]!.schemaExtensions.map((e) => e.schema), [ENTERPRISE, AGENT_EXTENSION]);
    const schemas = await scim('GET', '/Schemas');
    assert.match(schemas.body, /User Account/);
    const ids = schemas.json<{ Resources: { id: string }[] }>().Resources.map((r) => r.id);
    assert.ok(ids.includes('urn:tessera:scim:schemas:extension:role:2.0:Group'));
    const agent = (await scim('GET', `/Schemas/${AGENT_EXTENSION}`)).json<{ attributes: { name: string }[] }>();
    assert.deepEqual(agent.attributes.map((a) => a.name), ['owner', 'modelHash', 'sourceCommit', 'trainingDataVersion', 'sensitivityTier', 'computeZone', 'allowedCidrs', 'scopes']);
  });
});
