import type { Session } from '../sessions/session.js';
import type { AgentBaseline, RiskEvent } from './baseline.js';

/** What one sign-on reads before it is scored: one indexed read. */
export interface RiskSnapshot {
  readonly baseline: AgentBaseline;
  /** Set by a policy revoke until the owner approves a step-up. */
  readonly heldSince: Date | undefined;
  /** Whether any member of the agent's roles has already reached this SP. */
  readonly spUsedByRoles: boolean;
}

/** An allowed sign-on as its agent's baseline learns it (RiskRepository.learn). */
export interface RiskLearning {
  readonly agentId: string;
  readonly event: RiskEvent;
  /** The roles that should now count the SP as used (empty when they already do). */
  readonly rolesToTell: readonly string[];
  readonly spEntityId: string;
}

export interface RiskRepository {
  load(agentId: string, groupIds: readonly string[], spEntityId: string): Promise<RiskSnapshot>;
  /**
   * Learns an allowed sign-on: the event is applied to the baseline as it is stored at
   * the moment of writing, in one transaction, so concurrent sign-ons of one agent (in
   * this process or another) each count once. `rolesToTell` are the roles that should
   * now count the SP as used (empty when they already do).
   */
  learn(agentId: string, event: RiskEvent, rolesToTell: readonly string[], spEntityId: string): Promise<void>;
  /** Replaces an agent's baseline outright: fleet seeding, and tests that give an agent a history. */
  storeBaseline(agentId: string, baseline: AgentBaseline, at: Date): Promise<void>;
  /**
   * A policy revoke: ends every live session of the agent, queues their back-channel
   * logouts and holds the agent for the owner's review; one transaction.
   */
  revokeAgent(agentId: string, at: Date, reason: string): Promise<Session[]>;
}
