import type { Migration } from './migration.js';

/**
 * SCIM Groups (roles that grant scopes) and the durable outbox of back-channel
 * LogoutRequests.
 *
 * - groups.scopes is a JSON array; membership is a join table so that an agent's
 *   grants (own scopes ∪ its groups' scopes) are one indexed lookup, and deleting
 *   either side drops the membership.
 * - logout_outbox holds one row per (revoked session, SP): a snapshot of what the
 *   LogoutRequest needs, so delivery never depends on the session row surviving.
 *   next_attempt_at doubles as a lease: a worker claims a row by pushing it
 *   forward, so a crash mid-delivery only delays the row.
 */
export const scimGroupsLogoutMigration: Migration = {
  id: '0002-scim-groups-logout',
  sql: `
  CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    external_id TEXT,
    scopes TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, agent_id)
  );
  CREATE INDEX group_members_agent ON group_members(agent_id);

  CREATE TABLE logout_outbox (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    name_id TEXT NOT NULL,
    name_id_format TEXT NOT NULL,
    session_index TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','delivered','skipped','abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    UNIQUE (session_id, sp_entity_id)
  );
  CREATE INDEX logout_outbox_due ON logout_outbox(next_attempt_at) WHERE state = 'pending';
  `,
};
