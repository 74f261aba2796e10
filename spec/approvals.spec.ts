import assert from 'node:assert/strict';
import { ManualClock } from '../lib/common/clock.js';
import type { AuditEntry } from '../lib/audit/audit-entry.js';
import { openTask, orchestratorHeaders, provisionAgent, startTestIdp, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { tessera, writeConfig } from './support/lifecycle-tools.js';

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

/** A step-up rule (sign-on only) and short approval windows. */
const CONFIG = `
policy:
  approvals:
    requestTtlSeconds: 600
    validForSeconds: 120
  rules:
    - id: payroll-needs-owner
      effect: step_up
      when:
        on: [signon]
        scopes: [payroll:write]
`;

describe('step-up approvals: held, decided by the owner, then let through once', function () {
  let idp: TestIdp;
  let clock: ManualClock;
  let agent: TestAgent;
  let sp: NodeSamlSp;
  let configFile: string;

  before(async function () {
    configFile = writeConfig(CONFIG);
    clock = new ManualClock();
    idp = await startTestIdp({ env: { TESSERA_CONFIG: configFile }, clock });
    agent = await provisionAgent(idp, { profile: { scopes: ['invoices:read', 'payroll:write'] } });
    sp = await registerNodeSamlSp(idp, { signRequests: true });
  });
  after(async () => idp.close());

  const signOn = (taskId: string): Promise<HttpResult> =>
    idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });

  /** A held sign-on: RequestDenied to the SP with nothing about why, and the approval id for the agent. */
  function assertHeld(response: HttpResult): string {
    assert.equal(response.status, 403, response.body);
    const xml = Buffer.from(response.json<{ SAMLResponse: string }>().SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}Responder"`));
    assert.match(xml, new RegExp(`StatusCode Value="${STATUS}RequestDenied"`));
    assert.doesNotMatch(xml, /Assertion/);
    assert.doesNotMatch(xml, /payroll|rule/i, 'the reason stays in the audit log');
    const approvalId = response.headers['tessera-approval-id'];
    assert.equal(typeof approvalId, 'string');
    return approvalId as string;
  }

  async function audit(taskId: string): Promise<AuditEntry[]> {
    await idp.running.idp.auditLog.flush();
    const entries: AuditEntry[] = [];
    for await (const entry of idp.running.idp.store.audit.query({ taskId })) entries.push(entry);
    return entries;
  }

  const cli = (...args: string[]) => tessera([...args, '--data-dir', idp.dataDir], { TESSERA_CONFIG: configFile });

  it('holds the sign-on, lists the request, approves it with the command line, lets exactly the next sign-on through', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['payroll:write'] });
    const held = await signOn(taskId);
    const approvalId = assertHeld(held);
    assert.equal(assertHeld(await signOn(taskId)), approvalId, 'a second attempt waits on the same request');

    const listed = cli('approvals', 'list');
    assert.equal(listed.status, 0, listed.stderr);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(approvalId));
    assert.ok(line, listed.stdout);
    assert.match(line, /\tPENDING\t/);
    assert.match(line, /reasons=rule:payroll-needs-owner/);
    assert.match(line, /owner=team-payments@example.com/);

    const approved = cli('approvals', 'approve', approvalId);
    assert.equal(approved.status, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`^approved ${approvalId}`));
    assert.equal(cli('approvals', 'approve', approvalId).status, 1, 'a decided request cannot be decided again');

    const through = await signOn(taskId);
    assert.equal(through.status, 200, through.body);
    const { profile } = await sp.unsolicited.validatePostResponseAsync({ SAMLResponse: through.json<{ SAMLResponse: string }>().SAMLResponse });
    assert.equal(profile?.nameID, agent.userName);
    assert.equal((profile as Record<string, unknown>)['Agent-Scope'], 'payroll:write');

    const again = assertHeld(await signOn(taskId));
    assert.notEqual(again, approvalId, 'an approval lets one sign-on through; the next is held anew');

    const events = (await audit(taskId)).map((e) => [e.event, e.reason]);
    assert.deepEqual(events.filter(([event]) => event !== 'signon.denied' && event !== 'task.opened'), [
      ['policy.step_up', 'rule:payroll-needs-owner'],
      ['policy.step_up', 'rule:payroll-needs-owner'],
      ['approval.approved', null],
      ['approval.consumed', null],
      ['signon.issued', null],
      ['policy.step_up', 'rule:payroll-needs-owner'],
    ]);
  });

  it('lists and decides requests through the Tasks API; a denial keeps the sign-on held', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['payroll:write'] });
    const approvalId = assertHeld(await signOn(taskId));
    const listed = await idp.request({ path: `/api/v1/tasks/${taskId}/approvals`, headers: orchestratorHeaders(idp, 'application/json') });
    assert.equal(listed.status, 200, listed.body);
    const [request] = listed.json<{ approvals: Array<Record<string, unknown>> }>().approvals;
    assert.equal(request?.approvalId, approvalId);
    assert.equal(request?.status, 'PENDING');
    assert.deepEqual((request?.reasons as Array<{ code: string }>).map((r) => r.code), ['rule:payroll-needs-owner']);

    const bad = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}/approvals/${approvalId}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'MAYBE' }),
    });
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json<{ code: string }>().code, 'invalid_value');

    const denied = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}/approvals/${approvalId}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'DENIED' }),
    });
    assert.equal(denied.status, 200, denied.body);
    assert.equal(denied.json<{ status: string }>().status, 'DENIED');
    const next = assertHeld(await signOn(taskId));
    assert.notEqual(next, approvalId);
  });

  it('counts a request not decided in time as denied', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['payroll:write'], ttlSeconds: 7200 });
    const approvalId = assertHeld(await signOn(taskId));
    clock.advance(601);
    const listed = await idp.request({ path: `/api/v1/tasks/${taskId}/approvals`, headers: orchestratorHeaders(idp, 'application/json') });
    assert.equal(listed.json<{ approvals: Array<{ status: string }> }>().approvals[0]?.status, 'EXPIRED');
    const late = await idp.request({
      method: 'PATCH',
      path: `/api/v1/tasks/${taskId}/approvals/${approvalId}`,
      headers: orchestratorHeaders(idp, 'application/json'),
      body: JSON.stringify({ status: 'APPROVED' }),
    });
    assert.equal(late.status, 409, late.body);
    assert.match(late.json<{ detail: string }>().detail, /expired \(counts as denied\)/);
    assert.notEqual(assertHeld(await signOn(taskId)), approvalId, 'the sign-on is still held, under a new request');
  });

  it('lets through tasks the rule does not name, and applies no rule to opening them', async function () {
    const taskId = await openTask(idp, { agent: agent.userName, scopes: ['invoices:read'] });
    const response = await signOn(taskId);
    assert.equal(response.status, 200, response.body);
  });
});
