import type { Migration } from './migration.js';

/**
 * Finished logout deliveries (delivered, skipped, abandoned) by when they
 * finished, for the sweeper to purge those past retention in bounded batches
 * (sessions/sweeper.ts). Without a purge the outbox kept one row per revoked
 * session forever, and queueing a deprovisioned agent's logouts slowed with it.
 */
export const logoutOutboxFinishedMigration: Migration = {
  id: '0009-logout-outbox-finished',
  sql: `
  CREATE INDEX logout_outbox_finished ON logout_outbox(finished_at) WHERE state <> 'pending';
  `,
};
