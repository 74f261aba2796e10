import { strict as assert } from 'node:assert';
import { openDatabase, type SqliteDatabase } from '../lib/store/database.js';
import { idpInitiatedSignOn, openTask, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { allowAuditOf, refuseAuditOf } from './support/audit-faults.js';

/*
 * An allowed sign-on writes three things: its session (new or refreshed), what the
 * agent's risk baseline learns from it, and its signon.issued audit entry. They
 * commit in one transaction, before the Response is built: when the entry cannot
 * be written, no session is on record, the baseline has learnt nothing and the
 * agent gets a SAML error instead of an assertion. Before, the baseline and the
 * session each committed on their own, so a failed audit append left an
 * unaudited session behind and a baseline that had learnt a refused sign-on.
 * The failure is injected through another connection (support/audit-faults.ts).
 */

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

describe('a sign-on commits its session, learning and audit entry together', function () {
  this.timeout(30_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let db: SqliteDatabase;

  beforeEach(async () => {
    ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
    db = openDatabase(idp.dataDir);
  });
  afterEach(async () => {
    db.close();
    await idp.close();
  });

  const signOn = (taskId: string) => idpInitiatedSignOn(idp, agent, sp.entityId, taskId);
  const refuseIssuedEntries = () => refuseAuditOf(db, 'signon.issued');
  const allowIssuedEntries = () => allowAuditOf(db, 'signon.issued');

  const sessionsOf = (taskId: string) =>
    db.prepare<[string], { id: string; assertion_id: string }>('SELECT id, assertion_id FROM sessions WHERE task_id = ? ORDER BY created_at').all(taskId);
  const learntEvents = (): number => {
    const state = db.prepare<[string], string>('SELECT state FROM agent_baselines WHERE agent_id = ?').pluck().get(agent.id);
    return state === undefined ? 0 : (JSON.parse(state) as { n: number }).n;
  };
  const issuedEntries = (taskId: string) =>
    db
      .prepare<[string], { assertion_id: string; session_id: string; details: string }>(
        "SELECT assertion_id, session_id, details FROM audit_log WHERE event = 'signon.issued' AND task_id = ? ORDER BY seq",
      )
      .all(taskId);
  const assertionIdOf = (response: HttpResult): string => {
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    const id = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(xml)?.[1];
    assert.ok(id, 'the Response carries an assertion');
    return id;
  };
  const assertRefusedWithoutAssertion = (response: HttpResult): void => {
    assert.equal(response.status, 500, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Responder"`));
    assert.doesNotMatch(xml, /Assertion/);
  };

  it('a first sign-on whose entry cannot be written leaves no session and teaches the baseline nothing', async () => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });

    refuseIssuedEntries();
    assertRefusedWithoutAssertion(await signOn(task));
    assert.deepEqual(sessionsOf(task), [], 'no session without its audit entry');
    assert.equal(learntEvents(), 0, 'the baseline did not learn a refused sign-on');
    assert.deepEqual(issuedEntries(task), []);

    allowIssuedEntries();
    const issued = await signOn(task);
    assert.equal(issued.status, 200, issued.body);
    const [session, ...moreSessions] = sessionsOf(task);
    assert.ok(session);
    assert.equal(moreSessions.length, 0);
    assert.equal(learntEvents(), 1);
    const [entry, ...moreEntries] = issuedEntries(task);
    assert.ok(entry);
    assert.equal(moreEntries.length, 0);
    assert.equal(entry.session_id, session.id);
    assert.equal(entry.assertion_id, assertionIdOf(issued), 'the entry names the assertion that was sent');
    assert.equal(session.assertion_id, entry.assertion_id);
  });

  it('a refresh whose entry cannot be written leaves the session as the last Response described it', async () => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    const first = await signOn(task);
    assert.equal(first.status, 200, first.body);
    const before = sessionsOf(task);
    assert.equal(before.length, 1);
    assert.equal(before[0]!.assertion_id, assertionIdOf(first));

    refuseIssuedEntries();
    assertRefusedWithoutAssertion(await signOn(task));
    assert.deepEqual(sessionsOf(task), before, 'the session still names the assertion last sent');
    assert.equal(learntEvents(), 1);

    allowIssuedEntries();
    const refreshed = await signOn(task);
    assert.equal(refreshed.status, 200, refreshed.body);
    const after = sessionsOf(task);
    assert.equal(after.length, 1);
    assert.equal(after[0]!.id, before[0]!.id, 'the same session, refreshed');
    assert.equal(after[0]!.assertion_id, assertionIdOf(refreshed));
    assert.equal(learntEvents(), 2);
    const entries = issuedEntries(task);
    assert.equal(entries.length, 2);
    assert.equal(entries[1]!.assertion_id, assertionIdOf(refreshed));
    assert.equal((JSON.parse(entries[1]!.details) as { sessionRefreshed: boolean }).sessionRefreshed, true);
  });
});
