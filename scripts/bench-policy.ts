/**
 * `npm run bench:policy`: what policy and risk scoring add to one sign-on, measured
 * outside any test. A mature baseline (one week of an agent's sign-ons) is stored in a
 * real SQLite file; then, per sign-on, the same calls the sign-on path makes:
 *   load   one indexed read of the baseline row (+ the role lookup)
 *   score  assessRisk + decide (pure)
 *   learn  read, observe and upsert the baseline row, in one transaction
 * `learn` is timed inside one transaction per 64 sign-ons, as the IdP's group commit
 * batches the sign-on path's writes, and also as a transaction of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../lib/store/database.js';
import { SqliteRiskRepository } from '../lib/store/sqlite-risk.js';
import { emptyBaseline, observe, sourceNetwork, type RiskEvent } from '../lib/risk/baseline.js';
import { assessRisk } from '../lib/risk/score.js';
import { decide } from '../lib/policy/decide.js';
import { DEFAULT_POLICY } from '../lib/policy/policy-config.js';
import { PolicyEnforcer } from '../lib/policy/enforcer.js';
import { SqliteApprovalRepository } from '../lib/store/sqlite-approvals.js';
import { noAlerts } from '../lib/alerts/security-alert.js';
import { silentLogger } from '../lib/common/log.js';
import type { Agent } from '../lib/agents/index.js';
import type { Task } from '../lib/tasks/task.js';

const ROUNDS = 20_000;
const BATCH = 64;
const START = Date.UTC(2026, 10, 2, 8);

function event(i: number): RiskEvent {
  return {
    at: new Date(START + i * 600_000 + (i % 7) * 13_000),
    spEntityId: `https://sp-${i % 3}.example.test/saml`,
    network: sourceNetwork(`10.20.${i % 2}.${i % 250}`),
    scopes: i % 2 === 0 ? ['invoices:read'] : ['invoices:read', 'reports:read'],
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-policy-'));
  const db = openDatabase(dir, { synchronous: 'NORMAL' });
  try {
    const risk = new SqliteRiskRepository(db);
    const agents = Array.from({ length: 100 }, (_, i) => `agent-${i}`);
    const week = emptyBaseline();
    for (let i = 0; i < 7 * 60; i++) observe(week, event(i));
    for (const agent of agents) await risk.storeBaseline(agent, week, new Date(START));
    const groups = ['role-a', 'role-b'];
    const timings = { load: 0, score: 0, learnBatched: 0, learnAlone: 0 };
    let allowed = 0;
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const half = ROUNDS / 2;
    for (let round = 0; round < ROUNDS; round++) {
      // First half: writes batched BATCH to a commit (as the IdP's group commit does); second half: each its own commit.
      const alone = round >= half;
      const agent = agents[round % agents.length]!;
      const e = event(7 * 60 + round);
      let t = performance.now();
      const snapshot = await risk.load(agent, groups, e.spEntityId);
      timings.load += performance.now() - t;
      t = performance.now();
      const assessment = assessRisk(snapshot.baseline, snapshot.spUsedByRoles, e);
      const decision = decide(DEFAULT_POLICY, {
        point: 'signon',
        now: e.at,
        agent: { userName: agent, owner: 'o@example.com', tier: 'medium', computeZone: 'z', modelHash: 'm' },
        task: { tier: 'medium', scopes: e.scopes, createdAt: e.at },
        spEntityId: e.spEntityId,
        context: { sourceAddress: '10.20.0.1', claimedComputeZone: undefined },
        risk: assessment,
        heldAfterRevoke: false,
        approvalGranted: false,
      });
      timings.score += performance.now() - t;
      if (decision.kind === 'allow') allowed += 1;
      if (!alone && round % BATCH === 0) begin.run();
      t = performance.now();
      await risk.learn(agent, e, groups, e.spEntityId);
      const spent = performance.now() - t;
      if (alone) timings.learnAlone += spent;
      else timings.learnBatched += spent;
      if (!alone && (round % BATCH === BATCH - 1 || round === half - 1)) commit.run();
    }
    // End to end: PolicyEnforcer.checkSignOn, exactly as lib/saml/sign-on.ts calls it, writes batched.
    const enforcer = new PolicyEnforcer({
      policy: DEFAULT_POLICY,
      risk,
      approvals: new SqliteApprovalRepository(db),
      audit: { record: async () => undefined, recorded: () => undefined },
      logger: silentLogger,
      alerts: noAlerts,
      onLogoutsQueued: () => undefined,
    });
    const agentOf = (id: string): Agent => ({
      id,
      userName: id,
      active: true,
      externalId: undefined,
      profile: { owner: 'o@example.com', modelHash: 'm', sourceCommit: undefined, trainingDataVersion: undefined, sensitivityTier: 'medium', computeZone: 'z', allowedCidrs: [], scopes: [] },
      certificates: [],
      extraAttributes: {},
      groups: [{ id: 'role-a', displayName: 'a' }, { id: 'role-b', displayName: 'b' }],
      grantedScopes: ['invoices:read', 'reports:read'],
      version: 1,
      createdAt: new Date(START),
      updatedAt: new Date(START),
    });
    const agentObjects = agents.map(agentOf);
    let endToEnd = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const e = event(7 * 60 + ROUNDS + round);
      const task: Task = {
        id: 't', agentId: agents[round % agents.length]!, scopes: e.scopes, tier: 'medium', audiences: [],
        context: { cidrs: [], computeZone: undefined }, status: 'OPEN', createdAt: e.at, expiresAt: e.at, endedAt: undefined,
      };
      if (round % BATCH === 0) begin.run();
      const t = performance.now();
      await enforcer.checkSignOn({
        agent: agentObjects[round % agents.length]!, task, grantedScopes: e.scopes, spEntityId: e.spEntityId,
        sourceAddress: '10.20.0.7', claimedComputeZone: undefined, now: e.at,
      });
      endToEnd += performance.now() - t;
      if (round % BATCH === BATCH - 1 || round === ROUNDS - 1) commit.run();
    }
    const us = (ms: number, n: number) => ((ms * 1000) / n).toFixed(1);
    const batchedTotal = (timings.load + timings.score) / ROUNDS + timings.learnBatched / half;
    process.stdout.write(
      [
        `policy + risk per sign-on over ${ROUNDS} sign-ons (${allowed} allowed), mature week-long baselines, 100 agents`,
        `  load (one indexed read)        ${us(timings.load, ROUNDS)} µs`,
        `  score + decide (pure)          ${us(timings.score, ROUNDS)} µs`,
        `  learn, in a batched commit     ${us(timings.learnBatched, half)} µs`,
        `  learn, as its own commit       ${us(timings.learnAlone, half)} µs`,
        `  sum of the parts (batched)     ${(batchedTotal * 1000).toFixed(1)} µs`,
        `  PolicyEnforcer.checkSignOn     ${us(endToEnd, ROUNDS)} µs per sign-on, end to end, writes batched (target < 50 µs)`,
      ].join('\n') + '\n',
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
