import assert from 'node:assert/strict';
import type { Agent } from '../lib/agents/agent.js';
import type { JsonObject } from '../lib/scim/attribute-path.js';
import { collectListQuery, parseListQuery, runListQuery } from '../lib/scim/list-query.js';
import { USER_RESOURCE } from '../lib/scim/schema-definitions.js';
import { AGENT_EXTENSION, createScimResource, orchestratorHeaders, provisionAgent, startTestIdp, type TestIdp } from './support/harness.js';

/*
 * SCIM lists over a large directory (Okta's import pages through every User;
 * a fleet has 100,000 agents): a page is cut by SQLite in creation order, and
 * a filter scans the directory in bounded batches. No request loads every
 * agent at once.
 */

const AGENTS = 32;
const ROLE = 'urn:tessera:scim:schemas:extension:role:2.0:Group';

interface ListBody {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: Array<{ userName: string; id: string }>;
}

describe('SCIM lists read the directory a page or a batch at a time', function () {
  this.timeout(60_000);
  let idp: TestIdp;
  const userNames: string[] = [];
  const batchLimits: number[] = [];
  const pageLimits: number[] = [];
  const list = async (query: string): Promise<ListBody> => {
    const answer = await idp.request({ path: `/scim/v2/Users?${query}`, headers: orchestratorHeaders(idp) });
    assert.equal(answer.status, 200, answer.body);
    return JSON.parse(answer.body) as ListBody;
  };

  before(async function () {
    idp = await startTestIdp();
    for (let i = 0; i < AGENTS - 2; i++) {
      const userName = `pager-${String(i).padStart(2, '0')}`;
      const created = await createScimResource(idp, 'Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', AGENT_EXTENSION],
        userName,
        externalId: `ext-${i % 15}`,
        active: i % 3 !== 0,
        [AGENT_EXTENSION]: { scopes: ['invoices:read'] },
      });
      assert.equal(created.status, 201, created.body);
      userNames.push(userName);
    }
    // Two more with certificates, one of them in a role: what batch hydration must carry over.
    for (const userName of ['pager-30', 'pager-31']) {
      await provisionAgent(idp, { userName });
      userNames.push(userName);
    }
    const holder = await list(`filter=${encodeURIComponent('userName eq "pager-31"')}`);
    const role = await createScimResource(idp, 'Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', ROLE],
      displayName: 'pager-role',
      members: [{ value: holder.Resources[0]!.id }],
      [ROLE]: { scopes: ['reports:read'] },
    });
    assert.equal(role.status, 201, role.body);
    // The repository has no whole-directory read: every list pages or scans, and these record how much at a time.
    const agents = idp.running.idp.store.agents;
    const page = agents.page.bind(agents);
    agents.page = (offset, limit) => {
      pageLimits.push(limit);
      return page(offset, limit);
    };
    const batchAfter = agents.batchAfter.bind(agents);
    agents.batchAfter = (cursor, limit) => {
      batchLimits.push(limit);
      return batchAfter(cursor, limit);
    };
  });

  after(async function () {
    await idp?.close();
  });


  it('cuts an unfiltered page in SQLite, in creation order, with the directory total', async function () {
    const page = await list('startIndex=11&count=5');
    assert.equal(page.totalResults, AGENTS);
    assert.equal(page.startIndex, 11);
    assert.equal(page.itemsPerPage, 5);
    assert.deepEqual(
      page.Resources.map((r) => r.userName),
      userNames.slice(10, 15),
    );
    const last = await list(`startIndex=${AGENTS - 1}&count=10`);
    assert.deepEqual(
      last.Resources.map((r) => r.userName),
      userNames.slice(AGENTS - 2),
    );
    const beyond = await list(`startIndex=${AGENTS + 5}`);
    assert.equal(beyond.totalResults, AGENTS);
    assert.equal(beyond.itemsPerPage, 0);
    assert.deepEqual(batchLimits, [], 'no scan for a plain page');
    assert.ok(pageLimits.length === 3 && pageLimits.every((limit) => limit <= 200), `pages of at most 200 (${pageLimits.join(', ')})`);
  });

  it('answers a filter by scanning in bounded batches, keeping only the page', async function () {
    const inactive = userNames.slice(0, AGENTS - 2).filter((_, i) => i % 3 === 0);
    const page = await list(`filter=${encodeURIComponent('active eq false')}&startIndex=3&count=4`);
    assert.equal(page.totalResults, inactive.length);
    assert.deepEqual(
      page.Resources.map((r) => r.userName),
      inactive.slice(2, 6),
    );
    assert.ok(batchLimits.length > 0 && batchLimits.every((limit) => limit <= 500), `batches of at most 500 (${batchLimits.join(', ')})`);

    const sorted = await list(`filter=${encodeURIComponent('userName sw "pager-1"')}&sortBy=userName&sortOrder=descending&count=3`);
    assert.equal(sorted.totalResults, 10);
    assert.deepEqual(
      sorted.Resources.map((r) => r.userName),
      ['pager-19', 'pager-18', 'pager-17'],
    );
  });

  it('answers userName eq and externalId eq from an index, without a scan, the filter still deciding', async function () {
    const scansBefore = batchLimits.length;
    const byExternalId = await list(`filter=${encodeURIComponent('externalId eq "ext-7"')}`);
    assert.deepEqual(
      byExternalId.Resources.map((r) => r.userName),
      ['pager-07', 'pager-22'],
    );
    assert.equal(byExternalId.totalResults, 2);
    const caseExact = await list(`filter=${encodeURIComponent('externalId eq "EXT-7"')}`);
    assert.equal(caseExact.totalResults, 0, 'externalId is caseExact');
    const byUserName = await list(`filter=${encodeURIComponent('userName eq "PAGER-09"')}`);
    assert.deepEqual(
      byUserName.Resources.map((r) => r.userName),
      ['pager-09'],
      'userName is not',
    );
    assert.equal(batchLimits.length, scansBefore, 'no scan of the directory');
    const narrowed = await list(`filter=${encodeURIComponent('externalId eq "ext-7" and active eq false')}`);
    assert.equal(narrowed.totalResults, 0, 'pager-07 and pager-22 are active: the whole filter is applied');
  });

  it('walks the whole directory with batchAfter, each agent once, in list order', async function () {
    const agents = idp.running.idp.store.agents;
    const walked: Agent[] = [];
    for (let batch = await agents.batchAfter(undefined, 7); batch.length > 0; batch = await agents.batchAfter(batch.at(-1), 7)) {
      assert.ok(batch.length <= 7);
      walked.push(...batch);
    }
    assert.deepEqual(
      walked.map((a) => a.userName),
      userNames,
    );
    // Hydrated a batch at a time, each agent is what a lookup of that agent alone gives.
    for (const agent of walked) assert.deepEqual(agent, await agents.get(agent.id));
    const withRole = walked.find((a) => a.userName === 'pager-31')!;
    assert.equal(withRole.certificates.length, 1);
    assert.deepEqual(withRole.groups.map((g) => g.displayName), ['pager-role']);
    assert.ok(withRole.grantedScopes.includes('reports:read'));
    const { total, agents: page } = await agents.page(28, 5);
    assert.equal(total, AGENTS);
    assert.deepEqual(
      page.map((a) => a.userName),
      userNames.slice(28),
    );
  });
});

describe('collectListQuery: a list over batches equals the list over everything', function () {
  const documents: JsonObject[] = Array.from({ length: 47 }, (_, i) => ({
    id: `id-${i}`,
    userName: `user-${String((i * 17) % 47).padStart(2, '0')}`,
    active: i % 4 !== 0,
  }));
  async function* inBatches(size: number): AsyncIterable<JsonObject[]> {
    for (let i = 0; i < documents.length; i += size) yield documents.slice(i, i + size);
  }

  it('gives the same page, total and order for every batch size, filter, sort and window', async function () {
    const queries = [
      {},
      { filter: 'active eq true' },
      { filter: 'userName sw "user-1"', startIndex: '2', count: '3' },
      { startIndex: '40', count: '20' },
      { filter: 'active eq false', sortBy: 'userName', sortOrder: 'descending', startIndex: '2', count: '4' },
      { sortBy: 'userName', count: '0' },
    ];
    for (const source of queries) {
      const query = parseListQuery(source, USER_RESOURCE);
      const expected = runListQuery(documents, query);
      for (const size of [1, 5, 46, 47, 100]) {
        assert.deepEqual(await collectListQuery(inBatches(size), query), expected, `${JSON.stringify(source)} in batches of ${size}`);
      }
    }
  });
});
