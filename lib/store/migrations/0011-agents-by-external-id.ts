import type { Migration } from './migration.js';

/**
 * Agents by the provisioning client's own identifier: `filter=externalId eq "…"`
 * (how a client that keeps its own keys finds a User it provisioned) is an
 * index lookup instead of a scan of the directory.
 */
export const agentsByExternalIdMigration: Migration = {
  id: '0011-agents-by-external-id',
  sql: `
  CREATE INDEX agents_by_external_id ON agents(external_id) WHERE external_id IS NOT NULL;
  `,
};
