import type { Migration } from './migration.js';

/**
 * The live-session indexes by agent, by task and by SP NameID no longer carry
 * expires_at. A sign-on that refreshes its session moves expires_at and
 * last_activity_at forward; with expires_at in these three indexes each refresh
 * rewrote an entry in every one of them: 14 pages written to the WAL per
 * sign-on, 3 of them for these indexes alone. Keyed by what they select on,
 * SQLite leaves them untouched when a refresh changes neither agent, task nor
 * NameID. The `expires_at > now` test now reads the row, which every one of
 * these queries reads anyway; the indexes stay partial (revoked_at IS NULL) and
 * the sweeper ends expired sessions, so what they hold follows the live sessions.
 */
export const liveSessionIndexesByKeyMigration: Migration = {
  id: '0008-live-session-indexes-by-key',
  sql: `
  DROP INDEX sessions_live_by_agent;
  CREATE INDEX sessions_live_by_agent ON sessions(agent_id) WHERE revoked_at IS NULL;
  DROP INDEX sessions_live_by_task;
  CREATE INDEX sessions_live_by_task ON sessions(task_id) WHERE revoked_at IS NULL;
  DROP INDEX sessions_live_by_name_id;
  CREATE INDEX sessions_live_by_name_id ON sessions(sp_entity_id, name_id) WHERE revoked_at IS NULL;
  `,
};
