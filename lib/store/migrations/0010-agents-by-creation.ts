import type { Migration } from './migration.js';

/**
 * Agents in creation order, the order SCIM lists them in: a page of the
 * directory (startIndex/count) and a filter's scan read it batch by batch
 * instead of loading and sorting every agent for each request.
 */
export const agentsByCreationMigration: Migration = {
  id: '0010-agents-by-creation',
  sql: `
  CREATE INDEX agents_by_creation ON agents(created_at, id);
  `,
};
