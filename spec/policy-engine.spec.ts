import assert from 'node:assert/strict';
import { parseDocument, LineCounter } from 'yaml';
import { decide, type DecisionInput } from '../lib/policy/decide.js';
import { DEFAULT_POLICY, parsePolicyConfig, type PolicyConfig } from '../lib/policy/policy-config.js';
import type { DecisionKind, ReasonCode } from '../lib/policy/decision.js';
import { YamlLocator } from '../lib/config/cleanup-policy.js';
import { isTesseraError } from '../lib/common/errors.js';
import { NO_RISK, type RiskAssessment } from '../lib/risk/score.js';

const NOW = new Date('2026-11-30T14:00:00Z');
const SP = 'https://crm.example.test/saml';

function policyFrom(yaml: string): PolicyConfig {
  const lines = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter: lines });
  return parsePolicyConfig(doc.get('policy', true), new YamlLocator('test.yaml', lines));
}

type InputOverrides = Partial<Omit<DecisionInput, 'agent' | 'task'>> & { agent?: Partial<DecisionInput['agent']>; task?: Partial<DecisionInput['task']> };

function input(overrides: InputOverrides = {}): DecisionInput {
  return {
    point: 'signon',
    now: NOW,
    spEntityId: SP,
    context: { sourceAddress: '10.1.2.3', claimedComputeZone: undefined },
    risk: NO_RISK,
    heldAfterRevoke: false,
    approvalGranted: false,
    ...overrides,
    agent: { userName: 'agent-1', owner: 'team@example.com', tier: 'medium', computeZone: 'eu-west-1a', modelHash: 'sha256:good', ...overrides.agent },
    task: { tier: 'medium', scopes: ['invoices:read', 'reports:read'], createdAt: new Date(NOW.getTime() - 60_000), ...overrides.task },
  };
}

const risk = (score: number): RiskAssessment => ({ score, mature: true, contributions: [{ signal: 'new_network', weight: score, explanation: 'new source network 192.0.2.0/24' }] });

const POLICY = policyFrom(`
policy:
  modelHashes:
    allow: [sha256:good, sha256:denied]
    deny: [sha256:denied]
  computeZones: [eu-west-1a, eu-west-1b]
  maxTaskAgeSeconds: 3600
  risk: { stepUpAt: 0.5, revokeAt: 0.9 }
  serviceProviders:
    "${SP}":
      minimumTier: medium
      allowedScopes: [invoices:read]
      releaseAttributes: [AI-Agent-ID, Task-ID]
    "https://vault.example.test/saml":
      minimumTier: high
  rules:
    - id: no-high-tier-off-network
      effect: deny
      when: { taskTiers: [high], notSourceCidrs: [10.0.0.0/8] }
    - id: night-step-up
      effect: step_up
      when: { hoursUtc: { from: 22, to: 6 }, on: [signon] }
    - id: quarantined-owner
      effect: revoke
      when: { owners: [mallory@example.com] }
    - id: payroll-scope
      effect: step_up
      when: { scopes: [payroll:write], on: [task] }
`);

interface Row {
  readonly name: string;
  readonly input: DecisionInput;
  readonly kind: DecisionKind;
  readonly reasons: ReadonlyArray<ReasonCode | `rule:${string}`>;
}

const ROWS: Row[] = [
  { name: 'an ordinary sign-on', input: input(), kind: 'allow', reasons: [] },
  { name: 'a model hash on the deny list', input: input({ agent: { modelHash: 'sha256:denied' } }), kind: 'deny', reasons: ['model_hash_denied'] },
  { name: 'a model hash missing from the allow list', input: input({ agent: { modelHash: 'sha256:other' } }), kind: 'deny', reasons: ['model_hash_not_allowed'] },
  { name: 'an agent without a model hash under an allow list', input: input({ agent: { modelHash: undefined } }), kind: 'deny', reasons: ['model_hash_not_allowed'] },
  { name: 'a compute zone not allowed', input: input({ agent: { computeZone: 'us-east-1a' } }), kind: 'deny', reasons: ['compute_zone_not_allowed'] },
  {
    name: 'a claimed compute zone that is not the agent’s',
    input: input({ context: { sourceAddress: '10.1.2.3', claimedComputeZone: 'eu-west-1b' } }),
    kind: 'deny',
    reasons: ['compute_zone_mismatch'],
  },
  { name: 'a task older than the limit', input: input({ task: { createdAt: new Date(NOW.getTime() - 7200_000) } }), kind: 'deny', reasons: ['task_too_old'] },
  { name: 'an agent below the SP’s minimum tier', input: input({ agent: { tier: 'low' } }), kind: 'deny', reasons: ['agent_tier_below_sp_minimum'] },
  { name: 'an agent without a tier at a tiered SP', input: input({ agent: { tier: undefined } }), kind: 'deny', reasons: ['agent_tier_below_sp_minimum'] },
  {
    name: 'a task with no scope the SP may receive',
    input: input({ task: { scopes: ['reports:read'] } }),
    kind: 'deny',
    reasons: ['scope_not_allowed_for_sp'],
  },
  {
    name: 'a high-tier task from outside the corporate network (rule)',
    input: input({ task: { tier: 'high' }, context: { sourceAddress: '192.0.2.10', claimedComputeZone: undefined } }),
    kind: 'deny',
    reasons: ['rule:no-high-tier-off-network'],
  },
  { name: 'a sign-on at night (rule)', input: input({ now: new Date('2026-11-30T23:30:00Z'), task: { createdAt: new Date('2026-11-30T23:00:00Z') } }), kind: 'step_up', reasons: ['rule:night-step-up'] },
  { name: 'an agent of a quarantined owner (rule)', input: input({ agent: { owner: 'mallory@example.com' } }), kind: 'revoke', reasons: ['rule:quarantined-owner'] },
  { name: 'a task-only rule at sign-on', input: input({ task: { scopes: ['invoices:read', 'payroll:write'] } }), kind: 'allow', reasons: [] },
  { name: 'a task-only rule at task opening', input: input({ point: 'task', spEntityId: undefined, task: { scopes: ['payroll:write'] } }), kind: 'step_up', reasons: ['rule:payroll-scope'] },
  { name: 'risk below the step-up threshold', input: input({ risk: risk(0.49) }), kind: 'allow', reasons: [] },
  { name: 'risk at the step-up threshold', input: input({ risk: risk(0.5) }), kind: 'step_up', reasons: ['risk_step_up'] },
  { name: 'risk at the revoke threshold', input: input({ risk: risk(0.9) }), kind: 'revoke', reasons: ['risk_revoke'] },
  { name: 'risk is not scored at task opening', input: input({ point: 'task', spEntityId: undefined, risk: risk(0.95) }), kind: 'allow', reasons: [] },
  { name: 'an agent held after a policy revoke', input: input({ heldAfterRevoke: true }), kind: 'step_up', reasons: ['held_after_revoke'] },
  { name: 'an approved step-up', input: input({ risk: risk(0.6), approvalGranted: true }), kind: 'allow', reasons: ['risk_step_up', 'step_up_approved'] },
  {
    name: 'an approval does not lift a deny',
    input: input({ risk: risk(0.6), approvalGranted: true, agent: { modelHash: 'sha256:denied' } }),
    kind: 'deny',
    reasons: ['model_hash_denied', 'risk_step_up'],
  },
  { name: 'an approval does not lift a revoke', input: input({ risk: risk(0.95), approvalGranted: true }), kind: 'revoke', reasons: ['risk_revoke'] },
  {
    name: 'the strongest effect wins and every reason is kept',
    input: input({ agent: { owner: 'mallory@example.com', tier: 'low' }, risk: risk(0.6) }),
    kind: 'revoke',
    reasons: ['agent_tier_below_sp_minimum', 'rule:quarantined-owner', 'risk_step_up'],
  },
];

describe('policy engine: decide(input) → decision', function () {
  for (const row of ROWS) {
    it(`${row.kind}: ${row.name}`, function () {
      const decision = decide(POLICY, row.input);
      assert.equal(decision.kind, row.kind, JSON.stringify(decision.reasons));
      assert.deepEqual(
        decision.reasons.map((r) => (r.ruleId ? `rule:${r.ruleId}` : r.code)),
        row.reasons,
      );
      for (const reason of decision.reasons) assert.ok(reason.detail.length > 0, 'every reason explains itself');
    });
  }

  it('covers every reason code and decision kind in the table', function () {
    const codes = new Set<string>();
    const kinds = new Set<string>();
    for (const row of ROWS) {
      kinds.add(row.kind);
      for (const reason of decide(POLICY, row.input).reasons) codes.add(reason.code);
    }
    const all: ReasonCode[] = [
      'model_hash_denied',
      'model_hash_not_allowed',
      'compute_zone_not_allowed',
      'compute_zone_mismatch',
      'agent_tier_below_sp_minimum',
      'scope_not_allowed_for_sp',
      'task_too_old',
      'risk_step_up',
      'risk_revoke',
      'held_after_revoke',
      'step_up_approved',
      'rule',
    ];
    assert.deepEqual([...codes].sort(), [...all].sort());
    assert.deepEqual([...kinds].sort(), ['allow', 'deny', 'revoke', 'step_up']);
  });

  it('withholds scopes the SP may not receive and names the attributes it may', function () {
    const decision = decide(POLICY, input());
    assert.deepEqual(decision.scopes, ['invoices:read']);
    assert.deepEqual(decision.releaseAttributes, ['AI-Agent-ID', 'Task-ID']);
    const elsewhere = decide(POLICY, input({ spEntityId: 'https://other.example.test/saml' }));
    assert.deepEqual(elsewhere.scopes, ['invoices:read', 'reports:read']);
    assert.equal(elsewhere.releaseAttributes, undefined, 'an SP without policy receives every attribute');
  });

  it('is pure: the same input gives the same decision, and the input is not changed', function () {
    const frozen = input({ risk: risk(0.7) });
    const copy = JSON.stringify(frozen);
    assert.deepEqual(decide(POLICY, frozen), decide(POLICY, frozen));
    assert.equal(JSON.stringify(frozen), copy);
  });

  it('allows everything valid under the default policy', function () {
    assert.equal(decide(DEFAULT_POLICY, input({ agent: { modelHash: undefined, tier: undefined } })).kind, 'allow');
  });

  const BAD: Array<{ yaml: string; line: number; reason: RegExp }> = [
    { yaml: 'policy:\n  risk:\n    stepUpAt: 2\n', line: 3, reason: /stepUpAt must be a number from 0 to 1/ },
    { yaml: 'policy:\n  risk:\n    stepUpAt: 0.8\n    revokeAt: 0.5\n', line: 4, reason: /revokeAt must be at least stepUpAt/ },
    { yaml: 'policy:\n  rules:\n    - id: a\n      effect: block\n', line: 4, reason: /effect must be one of deny, step_up, revoke/ },
    { yaml: 'policy:\n  rules:\n    - id: a\n      effect: deny\n      when:\n        sourceCidrs: [10.0.0.0/33]\n', line: 6, reason: /not a CIDR range/ },
    { yaml: 'policy:\n  rules:\n    - id: a\n      effect: deny\n    - id: a\n      effect: deny\n', line: 5, reason: /duplicate rule id "a"/ },
    { yaml: 'policy:\n  serviceProviders:\n    "https://sp":\n      releaseAttributes: [Email]\n', line: 4, reason: /unknown attribute "Email"/ },
    { yaml: 'policy:\n  serviceProviders:\n    "https://sp":\n      minimumTier: top\n', line: 4, reason: /minimumTier must be high, medium or low/ },
    { yaml: 'policy:\n  riskk: {}\n', line: 2, reason: /unknown key "riskk" in policy/ },
  ];
  for (const bad of BAD) {
    it(`refuses a policy at start with file:line: ${bad.reason.source}`, function () {
      try {
        policyFrom(bad.yaml);
      } catch (error) {
        assert.ok(isTesseraError(error) && error.code === 'config_invalid', String(error));
        assert.match(error.message, new RegExp(`^test\\.yaml:${bad.line}: `));
        assert.match(error.message, bad.reason);
        return;
      }
      assert.fail('the policy was accepted');
    });
  }
});
