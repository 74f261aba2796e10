import type { Migration } from './migration.js';

/**
 * Policy engine state (issue 7).
 *
 * - agent_baselines: one row per agent, its streaming behaviour statistics as a small
 *   JSON document (lib/risk/baseline.ts), read and rewritten once per sign-on by
 *   primary key; held_since is set when a policy revoke ended the agent's sessions and
 *   cleared when the owner approves a step-up.
 * - role_sps: which SPs the members of each role (SCIM group) have reached, so an SP
 *   new to an agent but usual for its role is not treated as lateral movement.
 * - approvals: step-up requests for the agent's owner; an expired pending request
 *   counts as denied (derived at read time, never stored).
 * - alert_outbox: signed security events waiting for delivery to each webhook.
 */
export const policyRiskApprovalsMigration: Migration = {
  id: '0005-policy-risk-approvals',
  sql: `
  CREATE TABLE agent_baselines (
    agent_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    held_since INTEGER,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE role_sps (
    group_id TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (sp_entity_id, group_id)
  ) WITHOUT ROWID;

  CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    sp_entity_id TEXT,
    owner TEXT,
    reasons TEXT NOT NULL,
    risk_score REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    valid_until INTEGER,
    consumed_at INTEGER
  );
  CREATE INDEX approvals_by_target ON approvals(agent_id, task_id, status);
  CREATE INDEX approvals_by_status ON approvals(status, created_at);

  CREATE TABLE alert_outbox (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    webhook TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE INDEX alert_outbox_due ON alert_outbox(next_attempt_at) WHERE state = 'pending';
  `,
};
