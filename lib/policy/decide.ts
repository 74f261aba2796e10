import { addressInRanges } from '../common/cidr.js';
import type { RiskAssessment } from '../risk/score.js';
import { strongest, type Decision, type DecisionKind, type Reason } from './decision.js';
import { tierRank, type DecisionPoint, type PolicyConfig, type PolicyRule, type Tier } from './policy-config.js';

/** Everything a decision depends on; nothing else is read (clock and risk score included). */
export interface DecisionInput {
  readonly point: DecisionPoint;
  readonly now: Date;
  readonly agent: {
    readonly userName: string;
    readonly owner: string | undefined;
    readonly tier: Tier | undefined;
    readonly computeZone: string | undefined;
    readonly modelHash: string | undefined;
  };
  /** The task being opened or signed on with: its scopes are those the agent still holds. */
  readonly task: {
    readonly tier: Tier;
    readonly scopes: readonly string[];
    readonly createdAt: Date;
  };
  /** The SP signed on to (undefined for Tasks API calls). */
  readonly spEntityId: string | undefined;
  readonly context: {
    readonly sourceAddress: string;
    /** The compute zone the agent claims to run in (Compute-Zone header), if it says. */
    readonly claimedComputeZone: string | undefined;
  };
  readonly risk: RiskAssessment;
  /** A policy revoke ended this agent's sessions and no owner has approved it since. */
  readonly heldAfterRevoke: boolean;
  /** The agent's owner approved a step-up for this task and SP, still valid now. */
  readonly approvalGranted: boolean;
}

/**
 * The policy decision: every check runs and reports its reasons; the decision is
 * the strongest effect asked for (revoke > deny > step_up > allow). An owner's
 * approval turns a step-up into an allow, never a deny or a revoke.
 */
export function decide(policy: PolicyConfig, input: DecisionInput): Decision {
  const reasons: Reason[] = [];
  const ask = (reason: Reason) => reasons.push(reason);
  const { agent, task } = input;

  if (agent.modelHash !== undefined && policy.modelHashes.deny.includes(agent.modelHash)) {
    ask({ code: 'model_hash_denied', effect: 'deny', detail: `model hash ${agent.modelHash} is on the deny list` });
  }
  if (policy.modelHashes.allow.length > 0 && (agent.modelHash === undefined || !policy.modelHashes.allow.includes(agent.modelHash))) {
    ask({ code: 'model_hash_not_allowed', effect: 'deny', detail: `model hash ${agent.modelHash ?? '(none)'} is not on the allow list` });
  }
  if (policy.computeZones.length > 0 && (agent.computeZone === undefined || !policy.computeZones.includes(agent.computeZone))) {
    ask({ code: 'compute_zone_not_allowed', effect: 'deny', detail: `compute zone ${agent.computeZone ?? '(none)'} is not allowed` });
  }
  const claimed = input.context.claimedComputeZone;
  if (claimed !== undefined && claimed !== agent.computeZone) {
    ask({ code: 'compute_zone_mismatch', effect: 'deny', detail: `claimed compute zone ${claimed} is not the agent's (${agent.computeZone ?? 'none'})` });
  }
  const taskAgeSeconds = (input.now.getTime() - task.createdAt.getTime()) / 1000;
  if (policy.maxTaskAgeSeconds !== undefined && taskAgeSeconds > policy.maxTaskAgeSeconds) {
    ask({ code: 'task_too_old', effect: 'deny', detail: `the task is ${Math.floor(taskAgeSeconds)} s old (limit ${policy.maxTaskAgeSeconds} s)` });
  }

  const sp = input.spEntityId === undefined ? undefined : policy.serviceProviders[input.spEntityId];
  let scopes = task.scopes;
  if (sp?.minimumTier !== undefined && tierRank(agent.tier) < tierRank(sp.minimumTier)) {
    ask({ code: 'agent_tier_below_sp_minimum', effect: 'deny', detail: `the agent's tier ${agent.tier ?? '(none)'} is below the SP's minimum ${sp.minimumTier}` });
  }
  if (sp?.allowedScopes !== undefined) {
    const allowed = new Set(sp.allowedScopes);
    const withheld = scopes.filter((scope) => !allowed.has(scope));
    scopes = scopes.filter((scope) => allowed.has(scope));
    // Scopes the SP may not receive are withheld; a task left with none for this SP is refused.
    if (scopes.length === 0 && task.scopes.length > 0) {
      ask({ code: 'scope_not_allowed_for_sp', effect: 'deny', detail: `the SP may receive none of the task's scopes (${withheld.join(', ')})` });
    }
  }

  for (const rule of policy.rules) {
    if (ruleApplies(rule, input, taskAgeSeconds)) ask({ code: 'rule', effect: rule.effect, detail: `rule ${rule.id}`, ruleId: rule.id });
  }

  if (input.point === 'signon' && input.risk.score >= policy.risk.revokeAt) {
    ask({ code: 'risk_revoke', effect: 'revoke', detail: riskDetail(input.risk) });
  } else if (input.point === 'signon' && input.risk.score >= policy.risk.stepUpAt) {
    ask({ code: 'risk_step_up', effect: 'step_up', detail: riskDetail(input.risk) });
  }
  if (input.heldAfterRevoke) ask({ code: 'held_after_revoke', effect: 'step_up', detail: 'a policy revoke is awaiting the owner’s review' });

  let kind: DecisionKind = reasons.reduce<DecisionKind>((kind, reason) => strongest(kind, reason.effect), 'allow');
  if (kind === 'step_up' && input.approvalGranted) {
    kind = 'allow';
    reasons.push({ code: 'step_up_approved', effect: 'allow', detail: 'the owner approved this step-up' });
  }
  return {
    kind,
    reasons,
    scopes,
    releaseAttributes: sp?.releaseAttributes,
    riskScore: input.risk.score,
  };
}

function riskDetail(risk: RiskAssessment): string {
  return `risk ${risk.score.toFixed(2)}: ${risk.contributions.map((c) => c.explanation).join('; ')}`;
}

function ruleApplies(rule: PolicyRule, input: DecisionInput, taskAgeSeconds: number): boolean {
  const when = rule.when;
  const includes = <T>(list: readonly T[] | undefined, value: T | undefined) => list === undefined || (value !== undefined && list.includes(value));
  if (when.on !== undefined && !when.on.includes(input.point)) return false;
  if (when.spEntityIds !== undefined && (input.spEntityId === undefined || !when.spEntityIds.includes(input.spEntityId))) return false;
  if (!includes(when.taskTiers, input.task.tier)) return false;
  if (!includes(when.agentTiers, input.agent.tier)) return false;
  if (!includes(when.owners, input.agent.owner)) return false;
  if (!includes(when.computeZones, input.agent.computeZone)) return false;
  if (when.sourceCidrs !== undefined && !addressInRanges(input.context.sourceAddress, when.sourceCidrs)) return false;
  if (when.notSourceCidrs !== undefined && addressInRanges(input.context.sourceAddress, when.notSourceCidrs)) return false;
  if (when.hoursUtc !== undefined && !inHours(input.now.getUTCHours(), when.hoursUtc.from, when.hoursUtc.to)) return false;
  if (when.scopes !== undefined && !input.task.scopes.some((scope) => when.scopes!.includes(scope))) return false;
  if (when.minTaskAgeSeconds !== undefined && taskAgeSeconds < when.minTaskAgeSeconds) return false;
  if (when.minRiskScore !== undefined && input.risk.score < when.minRiskScore) return false;
  return true;
}

function inHours(hour: number, from: number, to: number): boolean {
  return from <= to ? hour >= from && hour < to : hour >= from || hour < to;
}
