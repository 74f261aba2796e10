import assert from 'node:assert/strict';
import { ManualClock } from '../lib/common/clock.js';
import { orchestratorHeaders, provisionAgent, startTestIdp, type HttpResult, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp } from './support/node-saml-sp.js';

describe('Tasks API', function () {
  let idp: TestIdp;
  let agent: TestAgent;
  const clock = new ManualClock();

  before(async function () {
    idp = await startTestIdp({ clock });
    agent = await provisionAgent(idp);
  });
  after(async () => idp.close());

  const post = (body: unknown, headers: Record<string, string> = orchestratorHeaders(idp, 'application/json')) =>
    idp.request({ method: 'POST', path: '/api/v1/tasks', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  function assertProblem(response: HttpResult, status: number, code: string, detail?: RegExp): void {
    assert.equal(response.status, status, response.body);
    assert.match(String(response.headers['content-type']), /application\/problem\+json/);
    const problem = response.json<{ type: string; status: number; code: string; detail: string }>();
    assert.equal(problem.status, status);
    assert.equal(problem.code, code);
    assert.equal(problem.type, `urn:tessera:problem:${code}`);
    if (detail) assert.match(problem.detail, detail);
  }

  it('opens a task (201, Location) and reads it back', async function () {
    const sp = await registerNodeSamlSp(idp);
    const response = await post({
      agent: agent.userName,
      scopes: ['invoices:read', 'reports:read'],
      tier: 'low',
      audiences: [sp.entityId],
      ttlSeconds: 600,
      context: { cidrs: ['127.0.0.1/32'], computeZone: 'eu-west-1a' },
    });
    assert.equal(response.status, 201, response.body);
    const task = response.json<{ taskId: string; status: string; agent: string; expiresAt: string; audiences: string[] }>();
    assert.equal(response.headers.location, `/api/v1/tasks/${task.taskId}`);
    assert.equal(task.status, 'OPEN');
    assert.equal(task.agent, agent.userName);
    assert.deepEqual(task.audiences, [sp.entityId]);
    const read = await idp.request({ path: `/api/v1/tasks/${task.taskId}`, headers: orchestratorHeaders(idp, 'application/json') });
    assert.equal(read.status, 200);
    assert.deepEqual(read.json(), task);
  });

  it('requires a valid orchestrator bearer token', async function () {
    const anonymous = await post({ agent: agent.userName, scopes: [], tier: 'low' }, { 'content-type': 'application/json' });
    assertProblem(anonymous, 401, 'orchestrator_unauthenticated');
    assert.match(String(anonymous.headers['www-authenticate']), /^Bearer/);
    const wrong = await post({ agent: agent.userName, scopes: [], tier: 'low' }, { 'content-type': 'application/json', authorization: 'Bearer tsr_not-a-token' });
    assertProblem(wrong, 401, 'orchestrator_unauthenticated');
  });

  it('refuses scopes the agent was not granted', async function () {
    assertProblem(await post({ agent: agent.userName, scopes: ['payroll:write'], tier: 'high' }), 403, 'scope_not_granted', /payroll:write/);
  });

  it('refuses malformed tasks with a clear problem', async function () {
    assertProblem(await post({ agent: 'nobody', scopes: [], tier: 'low' }), 400, 'invalid_value', /no agent/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'extreme' }), 400, 'invalid_value', /tier/);
    assertProblem(await post({ agent: agent.userName, scopes: 'invoices:read', tier: 'low' }), 400, 'invalid_value', /scopes/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'low', audience: ['x'] }), 400, 'invalid_value', /unknown field audience/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'low', audiences: ['https://unregistered.example'] }), 400, 'invalid_value', /not a registered SP/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'low', context: { cidrs: ['10.0.0.0/33'] } }), 400, 'invalid_value', /CIDR/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'low', ttlSeconds: 0 }), 400, 'invalid_value', /ttlSeconds/);
    assertProblem(await post({ agent: agent.userName, scopes: [], tier: 'low', context: { computeZone: 'us-east-1' } }), 400, 'invalid_value', /compute zone/);
    assertProblem(await post('{"agent": '), 400, 'invalid_syntax');
    assertProblem(await post('agent=x', { ...orchestratorHeaders(idp, 'application/json'), 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  });

  it('ends a task once: a second end is a conflict, an unknown task is 404', async function () {
    const created = await post({ agent: agent.userName, scopes: ['invoices:read'], tier: 'medium' });
    const { taskId } = created.json<{ taskId: string }>();
    const patch = (status: string) =>
      idp.request({ method: 'PATCH', path: `/api/v1/tasks/${taskId}`, headers: orchestratorHeaders(idp, 'application/json'), body: JSON.stringify({ status }) });
    assertProblem(await patch('DONE'), 400, 'invalid_value', /COMPLETED/);
    const ended = await patch('FAILED');
    assert.equal(ended.status, 200);
    assert.equal(ended.json().status, 'FAILED');
    assertProblem(await patch('COMPLETED'), 409, 'conflict', /already ended/);
    const missing = await idp.request({ path: '/api/v1/tasks/00000000-0000-4000-8000-000000000000', headers: orchestratorHeaders(idp, 'application/json') });
    assertProblem(missing, 404, 'not_found');
  });

  it('reports a task past its ttl as EXPIRED', async function () {
    const created = await post({ agent: agent.userName, scopes: [], tier: 'high', ttlSeconds: 60 });
    const { taskId } = created.json<{ taskId: string }>();
    clock.advance(61);
    const read = await idp.request({ path: `/api/v1/tasks/${taskId}`, headers: orchestratorHeaders(idp, 'application/json') });
    assert.equal(read.json().status, 'EXPIRED');
  });
});
