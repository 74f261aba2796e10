/**
 * The vocabulary of policy decisions: what `decide` answers and why. Reasons are
 * machine-readable codes (stable strings), each with a short explanation for the
 * audit log; they never reach the SP.
 */
export const DECISION_KINDS = ['allow', 'step_up', 'deny', 'revoke'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

/** Later is stronger: the decision is the strongest kind any check asked for. */
const SEVERITY: Record<DecisionKind, number> = { allow: 0, step_up: 1, deny: 2, revoke: 3 };

export function strongest(a: DecisionKind, b: DecisionKind): DecisionKind {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

export type ReasonCode =
  | 'model_hash_denied'
  | 'model_hash_not_allowed'
  | 'compute_zone_not_allowed'
  | 'compute_zone_mismatch'
  | 'agent_tier_below_sp_minimum'
  | 'scope_not_allowed_for_sp'
  | 'task_too_old'
  | 'risk_step_up'
  | 'risk_revoke'
  | 'held_after_revoke'
  | 'step_up_approved'
  | 'rule';

export interface Reason {
  readonly code: ReasonCode;
  /** The decision this reason asked for on its own. */
  readonly effect: DecisionKind;
  readonly detail: string;
  /** For `rule`: the rule's id from the configuration. */
  readonly ruleId?: string;
}

export interface Decision {
  readonly kind: DecisionKind;
  readonly reasons: readonly Reason[];
  /** The scopes the SP may receive (task grants ∩ the SP's allowed scopes). */
  readonly scopes: readonly string[];
  /** Attribute names the SP may receive; undefined means all. */
  readonly releaseAttributes: readonly string[] | undefined;
  /** The risk score the decision saw. */
  readonly riskScore: number;
}
