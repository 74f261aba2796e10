import assert from 'node:assert/strict';
import { emptyBaseline, observe, sourceNetwork, type AgentBaseline, type RiskEvent } from '../lib/risk/baseline.js';
import { assessRisk, type RiskSignal } from '../lib/risk/score.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 2, 9);
const SP = 'https://crm.example.test/saml';

/** Two weeks of a regular agent: 9:00–17:00 UTC, every ~15 min (±jitter), one network, one SP, one scope set. */
function habitual(): { baseline: AgentBaseline; lastAt: number } {
  const baseline = emptyBaseline();
  let at = START;
  for (let day = 0; day < 14; day++) {
    for (let k = 0; k < 32; k++) {
      at = START + day * 24 * HOUR + k * 15 * 60_000 + ((k * 37) % 120) * 1000;
      observe(baseline, { at: new Date(at), spEntityId: SP, network: '10.1.2.0/24', scopes: ['invoices:read'] });
    }
  }
  return { baseline, lastAt: at };
}

describe('risk model: streaming baseline and explained score', function () {
  const { baseline, lastAt } = habitual();
  const usual = (overrides: Partial<RiskEvent> = {}): RiskEvent => ({
    at: new Date(lastAt + 15 * 60_000 - 8 * 3_600_000 + 24 * HOUR),
    spEntityId: SP,
    network: '10.1.2.0/24',
    scopes: ['invoices:read'],
    ...overrides,
  });

  const TABLE: Array<{ name: string; event: RiskEvent; roles?: boolean; signals: RiskSignal[]; atLeast?: number; below?: number }> = [
    { name: 'a usual sign-on', event: usual(), signals: [], below: 0.01 },
    { name: 'a new source network', event: usual({ network: '203.0.113.0/24' }), signals: ['new_network'], atLeast: 0.5 },
    { name: 'an SP never used by the agent or its roles', event: usual({ spEntityId: 'https://hr.example.test/saml' }), signals: ['sp_outside_roles'], atLeast: 0.5 },
    { name: 'an SP new to the agent but used by its roles', event: usual({ spEntityId: 'https://hr.example.test/saml' }), roles: true, signals: ['new_sp'], below: 0.5 },
    { name: 'a scope never requested', event: usual({ scopes: ['invoices:read', 'payroll:write'] }), signals: ['new_scope'], atLeast: 0.5 },
    { name: 'outside active hours', event: usual({ at: new Date(lastAt + 24 * HOUR - 12 * HOUR) }), signals: ['unusual_hour'], atLeast: 0.5 },
    {
      name: 'everything at once',
      event: usual({ network: '203.0.113.0/24', spEntityId: 'https://hr.example.test/saml', scopes: ['payroll:write'], at: new Date(lastAt + 12 * HOUR) }),
      signals: ['new_network', 'sp_outside_roles', 'new_scope', 'unusual_hour'],
      atLeast: 0.9,
    },
  ];
  for (const row of TABLE) {
    it(`scores ${row.name}`, function () {
      const assessment = assessRisk(baseline, row.roles ?? false, row.event);
      assert.deepEqual(assessment.contributions.map((c) => c.signal), row.signals);
      assert.ok(assessment.score >= 0 && assessment.score <= 1);
      if (row.atLeast !== undefined) assert.ok(assessment.score >= row.atLeast, String(assessment.score));
      if (row.below !== undefined) assert.ok(assessment.score < row.below, String(assessment.score));
      for (const c of assessment.contributions) assert.ok(c.explanation.length > 0);
    });
  }

  it('explains a burst as a rate many σ above the baseline', function () {
    const burst = structuredClone(baseline);
    const at = lastAt + 24 * HOUR - 8 * HOUR;
    observe(burst, { at: new Date(at), spEntityId: SP, network: '10.1.2.0/24', scopes: ['invoices:read'] });
    observe(burst, { at: new Date(at + 40_000), spEntityId: SP, network: '10.1.2.0/24', scopes: ['invoices:read'] });
    const assessment = assessRisk(burst, false, usual({ at: new Date(at + 80_000) }));
    const rate = assessment.contributions.find((c) => c.signal === 'rate');
    assert.ok(rate, JSON.stringify(assessment));
    assert.match(rate.explanation, /^rate \d+× baseline, \d+\.\dσ above it$/);
    assert.ok(assessment.score >= 0.5);
  });

  it('judges nothing until a day of history with enough events is learnt', function () {
    const young = emptyBaseline();
    for (let k = 0; k < 30; k++) observe(young, { at: new Date(START + k * 60_000), spEntityId: SP, network: '10.1.2.0/24', scopes: ['a'] });
    const assessment = assessRisk(young, false, { at: new Date(START + HOUR), spEntityId: 'x', network: 'y', scopes: ['z'] });
    assert.equal(assessment.score, 0);
    assert.equal(assessment.mature, false);
  });

  it('keeps constant-size state however many distinct values it sees (O(1) per event)', function () {
    const busy = emptyBaseline();
    const sizes: number[] = [];
    for (let k = 0; k < 5000; k++) {
      observe(busy, { at: new Date(START + k * 60_000), spEntityId: `https://sp-${k}.example.test/saml`, network: `10.${k % 250}.${k % 199}.0/24`, scopes: [`s${k}`, `t${k % 7}`] });
      if (k % 1000 === 999) sizes.push(JSON.stringify(busy).length);
    }
    // Only the digits of the ever-longer names grow; the number of entries is bounded.
    assert.ok(Math.max(...sizes) < Math.min(...sizes) * 1.05, sizes.join(','));
    assert.equal(Object.keys(busy.sps).length, 64);
    assert.equal(Object.keys(busy.networks).length, 32);
    assert.ok(`https://sp-4999.example.test/saml` in busy.sps, 'the newest entries are kept, the least recent forgotten');
  });

  it('groups addresses into networks: IPv4 /24, IPv6 /48', function () {
    assert.equal(sourceNetwork('192.0.2.77'), '192.0.2.0/24');
    assert.equal(sourceNetwork('2001:db8:abcd:12::1'), '2001:db8:abcd::/48');
    assert.equal(sourceNetwork('::1'), '0:0:0::/48');
  });
});
