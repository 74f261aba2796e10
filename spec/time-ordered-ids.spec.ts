import { strict as assert } from 'node:assert';
import { openDatabase } from '../lib/store/database.js';
import { samlId, timeOrderedUuid } from '../lib/common/time-ordered-ids.js';
import { idpInitiatedSignOn, openTask, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';

/*
 * IDs stored in indexed columns (assertion IDs, SessionIndex, session and task
 * ids) lead with their time, so each index grows at its end instead of at a
 * random leaf (lib/common/time-ordered-ids.ts). The random part keeps its full size.
 */

const SAML_ID = /^_([0-9a-f]{12})([0-9a-f]{40})$/;
const UUID_V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const samlIdMillis = (id: string): number => parseInt(SAML_ID.exec(id)![1]!, 16);
const uuidMillis = (id: string): number => {
  const match = UUID_V7.exec(id)!;
  return parseInt(match[1]! + match[2]!, 16);
};

describe('time-ordered IDs', function () {
  this.timeout(30_000);

  describe('the generators', () => {
    it('SAML IDs are NCNames: the millisecond time in 12 hex digits, then 160 random bits', () => {
      const at = Date.UTC(2026, 10, 30, 1, 2, 3, 456);
      const id = samlId(at);
      assert.match(id, SAML_ID);
      assert.equal(samlIdMillis(id), at);
      const many = Array.from({ length: 20_000 }, () => samlId(at));
      assert.equal(new Set(many).size, many.length, 'no two IDs of one millisecond are equal');
      // Every hex digit of the random part takes all 16 values somewhere: no constant bits.
      for (let position = 0; position < 40; position += 1) {
        assert.equal(new Set(many.map((m) => SAML_ID.exec(m)![2]![position])).size, 16, `random digit ${position}`);
      }
    });

    it('SAML IDs of a later millisecond sort after those of an earlier one', () => {
      const at = Date.now();
      const earlier = Array.from({ length: 100 }, () => samlId(at));
      const later = Array.from({ length: 100 }, () => samlId(at + 1));
      assert.ok(earlier.every((e) => later.every((l) => e < l)));
    });

    it('UUIDs are version 7 (RFC 9562): the millisecond time, the version and variant, 74 random bits', () => {
      const at = Date.UTC(2026, 10, 30, 1, 2, 3, 456);
      const ids = Array.from({ length: 20_000 }, () => timeOrderedUuid(at));
      assert.ok(ids.every((id) => UUID_V7.test(id)), ids.find((id) => !UUID_V7.test(id)));
      assert.ok(ids.every((id) => uuidMillis(id) === at));
      assert.equal(new Set(ids).size, ids.length);
      // rand_a (3 hex digits after the version) and rand_b (variant digit's low bits, then 15 digits) vary.
      const digits = ids.map((id) => id.replace(/-/g, ''));
      for (const position of [13, 14, 15, ...Array.from({ length: 15 }, (_, i) => 17 + i)]) {
        assert.equal(new Set(digits.map((d) => d[position])).size, 16, `random digit ${position}`);
      }
      assert.deepEqual([...new Set(digits.map((d) => d[16]))].sort(), ['8', '9', 'a', 'b'], 'variant 10xx');
      assert.ok(timeOrderedUuid(at) < timeOrderedUuid(at + 1));
    });
  });

  describe('in sign-on, over HTTPS against the SQLite file', () => {
    let idp: TestIdp;
    let agent: TestAgent;
    let sp: NodeSamlSp;

    beforeEach(async () => {
      ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: true }));
    });
    afterEach(async () => idp.close());

    it('tasks, sessions, assertion IDs and SessionIndexes carry the time they were made, and the audit log stores assertion IDs in ascending order', async () => {
      const issued: Array<{ task: string; before: number; after: number; assertionId: string }> = [];
      for (let i = 0; i < 3; i += 1) {
        const before = Date.now();
        const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
        const res = await idpInitiatedSignOn(idp, agent, sp.entityId, task);
        assert.equal(res.status, 200, res.body);
        const after = Date.now();
        const { profile } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: res.json<{ SAMLResponse: string }>().SAMLResponse });
        const xml = Buffer.from(res.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
        const assertionId = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(xml)?.[1] ?? '';
        assert.ok(profile?.sessionIndex, 'node-saml verifies the Response and reads its SessionIndex');
        issued.push({ task, before, after, assertionId });
        // Distinct milliseconds, so the order below is the order of time.
        await new Promise((resolve) => setTimeout(resolve, 3));
      }

      const db = openDatabase(idp.dataDir);
      try {
        for (const { task, before, after, assertionId } of issued) {
          const within = (ms: number, what: string) => assert.ok(ms >= before && ms <= after, `${what} made at ${ms}, outside ${before}..${after}`);
          assert.match(task, UUID_V7);
          within(uuidMillis(task), 'task id');
          assert.match(assertionId, SAML_ID);
          within(samlIdMillis(assertionId), 'assertion ID');
          const session = db
            .prepare<[string], { id: string; session_index: string; assertion_id: string }>('SELECT id, session_index, assertion_id FROM sessions WHERE task_id = ?')
            .get(task);
          assert.ok(session);
          assert.equal(session.assertion_id, assertionId, 'the session holds the assertion the SP received');
          assert.match(session.id, UUID_V7);
          within(uuidMillis(session.id), 'session id');
          assert.match(session.session_index, SAML_ID);
          within(samlIdMillis(session.session_index), 'SessionIndex');
        }
        const audited = db
          .prepare<[], { assertion_id: string }>(
            "SELECT assertion_id FROM audit_log WHERE event = 'signon.issued' AND assertion_id IS NOT NULL ORDER BY seq",
          )
          .all()
          .map((row) => row.assertion_id);
        assert.deepEqual(audited, issued.map((i) => i.assertionId));
        assert.deepEqual([...audited].sort(), audited, 'later entries sort after earlier ones in audit_log_assertion');
      } finally {
        db.close();
      }
    });
  });
});
