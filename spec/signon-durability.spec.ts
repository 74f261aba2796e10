import { strict as assert } from 'node:assert';
import { openDatabase, type SqliteDatabase } from '../lib/store/database.js';
import { idpInitiatedSignOn, openTask, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { startIdpWithAgentAndSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { SyncObserver } from './support/sync-observer.js';

/*
 * The sign-on path commits without syncing and acknowledges only after a WAL sync
 * that started after its commit (store/group-commit.ts). These tests hold and fail
 * that sync and watch, over HTTPS, that nothing of the sign-on leaves before the
 * sync is done: no Response, no `audit.signon.issued` log line, and on a failed
 * sync a SAML error instead of an assertion.
 */

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

async function eventually(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a sign-on is answered only once its session and audit entry are on disk', function () {
  this.timeout(30_000);
  let idp: TestIdp;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let db: SqliteDatabase;
  const syncs = new SyncObserver();

  beforeEach(async () => {
    ({ idp, agent, sp } = await startIdpWithAgentAndSp({ signResponse: false }));
    db = openDatabase(idp.dataDir);
    syncs.install();
  });
  afterEach(async () => {
    // Whatever is still held completes as the real sync did, so the server can close.
    syncs.releaseAll();
    syncs.restore();
    db.close();
    await idp.close();
  });

  const issuedLogLines = (taskId: string): number =>
    idp.logLines.filter((line) => line.includes('"event":"audit.signon.issued"') && line.includes(taskId)).length;
  const sessionsOf = (taskId: string): number =>
    db.prepare<[string], number>('SELECT count(*) FROM sessions WHERE task_id = ?').pluck().get(taskId) ?? 0;

  /** Starts a sign-on and waits until its commit's sync has started (and is held). */
  async function signOnWithSyncHeld(taskId: string): Promise<{ answer: Promise<HttpResult>; answered: () => boolean }> {
    const before = syncs.started.length;
    let done = false;
    const answer = idpInitiatedSignOn(idp, agent, sp.entityId, taskId).finally(() => {
      done = true;
    });
    await eventually(() => syncs.started.length > before, "the sign-on's WAL sync");
    return { answer, answered: () => done };
  }

  it('holds the Response and the log line until the sync that covers the session is done', async () => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    const { answer, answered } = await signOnWithSyncHeld(task);

    // Committed and still held: the sync has not reported back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sessionsOf(task), 1, 'the session is committed before its sync');
    assert.equal(answered(), false, 'the Response left before its session was durable');
    assert.equal(issuedLogLines(task), 0, 'the sign-on was logged as issued before it was durable');

    syncs.releaseAll();
    const response = await answer;
    assert.equal(response.status, 200, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Success"`));
    assert.match(xml, /<saml:Assertion /);
    assert.equal(issuedLogLines(task), 1);
  });

  it('answers a SAML error, with no assertion and no issued log line, when the sync fails', async () => {
    const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
    const { answer } = await signOnWithSyncHeld(task);

    const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }) as NodeJS.ErrnoException;
    syncs.releaseAll(failure);
    const response = await answer;
    assert.equal(response.status, 500, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Responder"`));
    assert.doesNotMatch(xml, /Assertion/);
    assert.equal(issuedLogLines(task), 0, 'a sign-on whose sync failed was logged as issued');
  });
});
