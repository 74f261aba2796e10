import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type Store } from '../lib/store/index.js';
import { openDatabase } from '../lib/store/database.js';
import { DirectoryCache } from '../lib/store/directory-cache.js';
import type { AgentWrite } from '../lib/agents/agent.js';
import { auditedAgent } from '../lib/audit/index.js';
import { parseSpMetadata } from '../lib/saml/sp-metadata.js';
import { openTask, provisionAgent, startTestIdp, testKeyPair, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * Sign-on keeps agents and SPs in memory while the directory is unchanged
 * (store/directory-cache.ts). These tests change the directory the way another
 * process would — through a connection of its own to the same file, never
 * through the server — and show that the very next sign-on sees the change.
 */

/** The StatusMessage of a SAML error Response delivered for the ACS (base64 XML). */
function statusMessageOf(samlResponse: string): string {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  assert.doesNotMatch(xml, /<saml:Assertion/, 'a refusal carries no assertion');
  return /<samlp:StatusMessage>([^<]*)<\/samlp:StatusMessage>/.exec(xml)?.[1] ?? '';
}

describe('directory cache', function () {
  this.timeout(30_000);

  describe('DirectoryCache over a real SQLite file', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-directory-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

    it('loads once while unchanged, again (from the next turn on) after another connection changes a directory table, and never caches a miss', async () => {
      const db = openDatabase(dir);
      const other = openDatabase(dir);
      try {
        const cache = new DirectoryCache(db);
        let loads = 0;
        const load = () => {
          loads += 1;
          return { loaded: loads };
        };
        assert.deepEqual(cache.lookup('kind', 'k', load), { loaded: 1 });
        assert.deepEqual(cache.lookup('kind', 'k', load), { loaded: 1 });
        assert.equal(loads, 1);

        // A table outside the directory does not invalidate.
        other.prepare('INSERT INTO replay_cache (namespace, id, expires_at) VALUES (?, ?, ?)').run('ns', 'x', Date.now() + 60_000);
        await nextTurn();
        assert.deepEqual(cache.lookup('kind', 'k', load), { loaded: 1 });

        for (const change of [
          () => other.prepare(`INSERT INTO groups (id, display_name, scopes, created_at, updated_at, version) VALUES ('g1', 'g', '[]', 0, 0, 1)`).run(),
          () => other.prepare(`UPDATE groups SET display_name = 'h' WHERE id = 'g1'`).run(),
          () => other.prepare(`DELETE FROM groups WHERE id = 'g1'`).run(),
        ]) {
          const before: number = loads;
          change();
          await nextTurn();
          cache.lookup('kind', 'k', load);
          assert.equal(loads, before + 1, 'a committed directory change must be seen by the next lookup');
        }

        let missLoads = 0;
        assert.equal(cache.lookup('kind', 'missing', () => void (missLoads += 1)), undefined);
        assert.equal(cache.lookup('kind', 'missing', () => void (missLoads += 1)), undefined);
        assert.equal(missLoads, 2);
      } finally {
        other.close();
        db.close();
      }
    });
  });

  describe('sign-on after a change made by another process', () => {
    let idp: TestIdp;
    let outside: Store;
    let agent: TestAgent;
    let sp: NodeSamlSp;

    beforeEach(async () => {
      idp = await startTestIdp();
      outside = openSqliteStore(idp.dataDir);
      agent = await provisionAgent(idp);
      sp = await registerNodeSamlSp(idp, { signResponse: true });
    });
    afterEach(async () => {
      outside.close();
      await idp.close();
    });

    /** An agent change committed through the outside connection, with its audit record, as the SCIM router makes one. */
    const changeOutside = async (id: string, change: (current: AgentWrite) => AgentWrite): Promise<void> => {
      const current = await outside.agents.get(id);
      assert.ok(current);
      const write: AgentWrite = {
        userName: current.userName,
        active: current.active,
        externalId: current.externalId,
        profile: current.profile,
        extraAttributes: current.extraAttributes,
        certificates: current.certificates,
      };
      const changed = await outside.agents.replace(id, change(write), new Date(), undefined, (result) => ({
        event: result.previous.active && !result.agent.active ? 'agent.deactivated' : 'agent.changed',
        actor: 'test:outside',
        agent: auditedAgent(result.agent),
      }));
      assert.ok(changed);
    };

    const signOn = async (task: string, credential = agent.credential) =>
      idp.request({
        path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
        headers: { 'task-id': task, accept: 'application/json' },
        clientCert: { certPem: credential.certPem, keyPem: credential.keyPem },
      });

    it('an agent deactivated through another connection is refused at its next sign-on', async () => {
      const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
      assert.equal((await signOn(task)).status, 200);
      assert.equal((await signOn(task)).status, 200);
      await changeOutside(agent.id, (current) => ({ ...current, active: false }));
      const refused = await signOn(task);
      assert.equal(refused.status, 403);
      assert.match(statusMessageOf(refused.json<{ SAMLResponse: string }>().SAMLResponse), /deactivated/);
    });

    it('a certificate retired through another connection is refused, and its replacement accepted, at the next sign-on', async () => {
      const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
      assert.equal((await signOn(task)).status, 200);
      const replacement = await testKeyPair(`${agent.userName}-next`);
      // The same change SCIM makes when the orchestrator replaces x509Certificates, committed elsewhere.
      const thumbprint = createHash('sha256').update(Buffer.from(replacement.certBase64, 'base64')).digest('hex');
      await changeOutside(agent.id, (current) => ({
        ...current,
        certificates: [{ thumbprint, pem: replacement.certPem, registeredAt: new Date(), retiredAt: undefined }],
      }));
      const stale = await signOn(task);
      assert.equal(stale.status, 403);
      assert.match(statusMessageOf(stale.json<{ SAMLResponse: string }>().SAMLResponse), /certificate was retired/);
      const fresh = await signOn(task, replacement);
      assert.equal(fresh.status, 200, fresh.body);
    });

    it('an SP re-registered by another process gets its next Response at the new ACS', async () => {
      const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
      const first = await signOn(task);
      assert.equal(first.status, 200);
      assert.equal(first.json<{ acsUrl: string }>().acsUrl, sp.acsUrl);
      const movedAcs = sp.acsUrl.replace('/saml/acs', '/saml/acs-moved');
      const moved = parseSpMetadata(sp.metadataXml.replaceAll(sp.acsUrl, movedAcs), { signResponse: true, now: new Date() });
      await outside.serviceProviders.register(moved, true);
      const second = await signOn(task);
      assert.equal(second.status, 200);
      assert.equal(second.json<{ acsUrl: string }>().acsUrl, movedAcs);
    });

    it('an SP removed by another process is unknown at the next sign-on', async () => {
      const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
      assert.equal((await signOn(task)).status, 200);
      assert.equal(await outside.serviceProviders.remove(sp.entityId), true);
      const refused = await signOn(task);
      assert.equal(refused.status, 400);
      assert.equal(refused.json<{ error: string }>().error, 'saml_unknown_sp');
    });
  });
});
