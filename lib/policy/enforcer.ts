import { randomUUID } from 'node:crypto';
import { TesseraError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Agent } from '../agents/index.js';
import { auditedAgent, type AuditLog } from '../audit/index.js';
import type { Task } from '../tasks/task.js';
import type { ApprovalRepository } from '../approvals/approval.js';
import type { SecurityAlerts } from '../alerts/security-alert.js';
import { emptyBaseline, sourceNetwork, type RiskEvent } from '../risk/baseline.js';
import { assessRisk, NO_RISK } from '../risk/score.js';
import type { RiskLearning, RiskRepository, RiskSnapshot } from '../risk/risk-repository.js';
import { decide, type DecisionInput } from './decide.js';
import type { Decision } from './decision.js';
import type { PolicyConfig } from './policy-config.js';

export interface PolicyEnforcerDeps {
  readonly policy: PolicyConfig;
  readonly risk: RiskRepository;
  readonly approvals: ApprovalRepository;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly alerts: SecurityAlerts;
  /** A revoke queued back-channel logouts: send them now. */
  readonly onLogoutsQueued: () => void;
}

export interface SignOnPolicyInput {
  readonly agent: Agent;
  readonly task: Task;
  /** The task's scopes the agent still holds. */
  readonly grantedScopes: readonly string[];
  readonly spEntityId: string;
  readonly sourceAddress: string;
  readonly claimedComputeZone: string | undefined;
  readonly now: Date;
  /** Told the approval request's id when the sign-on is held, so the agent can name it. */
  readonly onHeld?: (approvalId: string) => void;
}

/** What an allowed sign-on may carry to this SP. */
export interface SignOnRelease {
  readonly scopes: readonly string[];
  readonly releaseAttributes: readonly string[] | undefined;
  readonly decision: Decision;
  /**
   * What the agent's baseline learns from this sign-on, when risk scoring is on. The
   * caller commits it with the session it issues (IssuanceRepository), so a sign-on
   * that ends up refused teaches the baseline nothing.
   */
  readonly learning: RiskLearning | undefined;
}

export const POLICY_REVOKE_REASON = 'policy:revoke';

/**
 * Runs the policy at a decision point and carries out what it decided: one read of
 * the agent's baseline, the pure decision, then what it decided (allow: the event to
 * learn, which the caller commits with the session; step-up: an approval request;
 * revoke: end the agent's sessions with logouts).
 * Every non-allow is audited with its reasons and raised as a security alert; the
 * caller sees only a stable error code.
 */
export class PolicyEnforcer {
  constructor(private readonly deps: PolicyEnforcerDeps) {}

  get policy(): PolicyConfig {
    return this.deps.policy;
  }

  async checkSignOn(input: SignOnPolicyInput): Promise<SignOnRelease> {
    const { agent, now } = input;
    const groupIds = agent.groups.map((group) => group.id);
    const riskOn = this.deps.policy.risk.enabled;
    const snapshot: RiskSnapshot = riskOn
      ? await this.deps.risk.load(agent.id, groupIds, input.spEntityId)
      : { baseline: emptyBaseline(), heldSince: undefined, spUsedByRoles: false };
    const event: RiskEvent = { at: now, spEntityId: input.spEntityId, network: sourceNetwork(input.sourceAddress), scopes: input.grantedScopes };
    const risk = riskOn ? assessRisk(snapshot.baseline, snapshot.spUsedByRoles, event) : NO_RISK;
    const decisionInput: DecisionInput = {
      point: 'signon',
      now,
      agent: agentFacts(agent),
      task: { tier: input.task.tier, scopes: input.grantedScopes, createdAt: input.task.createdAt },
      spEntityId: input.spEntityId,
      context: { sourceAddress: input.sourceAddress, claimedComputeZone: input.claimedComputeZone },
      risk,
      heldAfterRevoke: snapshot.heldSince !== undefined,
      approvalGranted: false,
    };
    let decision = decide(this.deps.policy, decisionInput);
    if (decision.kind === 'step_up') {
      // Only a held sign-on looks for an approval: the common path stays one read.
      const approval = await this.deps.approvals.consumeGranted(agent.id, input.task.id, input.spEntityId, now);
      if (approval) {
        decision = decide(this.deps.policy, { ...decisionInput, approvalGranted: true });
        await this.deps.audit.record({
          event: 'approval.consumed',
          actor: `agent:${agent.userName}`,
          agent: auditedAgent(agent),
          taskId: input.task.id,
          spEntityId: input.spEntityId,
          details: { approvalId: approval.id, decidedBy: approval.decidedBy },
        });
      }
    }
    if (decision.kind === 'allow') {
      // Roles learn an SP when one of their agents first reaches it (or when none of them had).
      const newToAgent = !(input.spEntityId in snapshot.baseline.sps);
      const learning: RiskLearning | undefined = riskOn
        ? { agentId: agent.id, event, rolesToTell: newToAgent || !snapshot.spUsedByRoles ? groupIds : [], spEntityId: input.spEntityId }
        : undefined;
      return { scopes: decision.scopes, releaseAttributes: decision.releaseAttributes, decision, learning };
    }
    return this.refuse(decision, { ...input, point: 'signon', contributions: risk.contributions });
  }

  /** The Tasks API: a task is opened only if policy allows it (no risk score: nothing was signed on yet). */
  async checkTaskOpening(agent: Agent, task: Pick<Task, 'id' | 'tier' | 'scopes' | 'createdAt'>, sourceAddress: string, now: Date): Promise<void> {
    const decision = decide(this.deps.policy, {
      point: 'task',
      now,
      agent: agentFacts(agent),
      task: { tier: task.tier, scopes: task.scopes, createdAt: task.createdAt },
      spEntityId: undefined,
      context: { sourceAddress, claimedComputeZone: undefined },
      risk: NO_RISK,
      heldAfterRevoke: false,
      approvalGranted: false,
    });
    if (decision.kind === 'allow') return;
    // No task exists yet to hold for an approval: a step-up here is a refusal like a deny.
    await this.refuse(decision.kind === 'step_up' ? { ...decision, kind: 'deny' } : decision, {
      agent,
      taskId: undefined,
      spEntityId: undefined,
      now,
      point: 'task',
      contributions: [],
    });
  }

  private async refuse(
    decision: Decision,
    context: {
      readonly agent: Agent;
      readonly task?: Task;
      readonly taskId?: string | undefined;
      readonly spEntityId: string | undefined;
      readonly now: Date;
      readonly point: 'signon' | 'task';
      readonly contributions: readonly unknown[];
      readonly onHeld?: (approvalId: string) => void;
    },
  ): Promise<never> {
    const { agent, now } = context;
    const taskId = context.task?.id ?? context.taskId;
    const reasons = decision.reasons.map((r) => (r.ruleId ? `rule:${r.ruleId}` : r.code));
    const common = {
      actor: 'policy',
      agent: auditedAgent(agent),
      taskId,
      spEntityId: context.spEntityId,
      reason: reasons[0],
    };
    const details = { point: context.point, reasons: decision.reasons, riskScore: decision.riskScore, contributions: context.contributions };
    if (decision.kind === 'step_up' && context.task) {
      const { request, created } = await this.deps.approvals.requestOrReuse(
        {
          id: randomUUID(),
          agentId: agent.id,
          taskId: context.task.id,
          spEntityId: context.spEntityId,
          owner: agent.profile.owner,
          reasons: decision.reasons,
          riskScore: decision.riskScore,
          createdAt: now,
          expiresAt: new Date(now.getTime() + this.deps.policy.approvals.requestTtlSeconds * 1000),
        },
        now,
      );
      await this.deps.audit.record({ event: 'policy.step_up', ...common, details: { ...details, approvalId: request.id, newRequest: created } });
      if (created) await this.alert('step_up', decision, agent, taskId, context.spEntityId, now, { approvalId: request.id });
      context.onHeld?.(request.id);
      throw new TesseraError('policy_step_up', "the sign-on is held for the agent owner's approval", {
        fields: { approvalId: request.id },
      });
    }
    if (decision.kind === 'revoke') {
      const sessions = await this.deps.risk.revokeAgent(agent.id, now, POLICY_REVOKE_REASON);
      if (sessions.length > 0) this.deps.onLogoutsQueued();
      await this.deps.audit.record({ event: 'policy.revoke', ...common, details: { ...details, revokedSessions: sessions.map((s) => s.id) } });
      await this.alert('revoke', decision, agent, taskId, context.spEntityId, now, { sessionIndexes: sessions.map((s) => s.sessionIndex) });
      throw new TesseraError('policy_revoked', "the agent's access was revoked by policy");
    }
    await this.deps.audit.record({ event: 'policy.denied', ...common, details });
    await this.alert('deny', decision, agent, taskId, context.spEntityId, now, {});
    throw new TesseraError('policy_denied', 'the request was refused by policy');
  }

  private async alert(
    kind: 'deny' | 'step_up' | 'revoke',
    decision: Decision,
    agent: Agent,
    taskId: string | undefined,
    spEntityId: string | undefined,
    at: Date,
    extra: { approvalId?: string; sessionIndexes?: readonly string[] },
  ): Promise<void> {
    try {
      await this.deps.alerts.raise({
        kind,
        at,
        agentId: agent.id,
        agentUserName: agent.userName,
        owner: agent.profile.owner,
        taskId,
        spEntityId,
        reasons: decision.reasons,
        riskScore: decision.riskScore,
        approvalId: extra.approvalId,
        sessionIndexes: extra.sessionIndexes ?? [],
      });
    } catch (error) {
      // The decision stands whatever happens to its alert; the audit log already has it.
      this.deps.logger.error('alert.queue_failed', { kind, agent: agent.userName, error: String(error) });
    }
  }
}

function agentFacts(agent: Agent): DecisionInput['agent'] {
  return {
    userName: agent.userName,
    owner: agent.profile.owner,
    tier: agent.profile.sensitivityTier,
    computeZone: agent.profile.computeZone,
    modelHash: agent.profile.modelHash,
  };
}
