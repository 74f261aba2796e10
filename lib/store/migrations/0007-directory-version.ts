import type { Migration } from './migration.js';

const DIRECTORY_TABLES = ['agents', 'agent_certificates', 'groups', 'group_members', 'service_providers'] as const;

/**
 * A version number for the directory: agents, their certificates, groups and
 * memberships, and registered SPs. Triggers bump it in the same transaction as
 * any change to those tables, whichever process or connection makes it, so a
 * process can keep what it read in memory for exactly as long as the version
 * it read first is still current (store/directory-cache.ts). One row, read by
 * primary key: about a microsecond per check.
 */
export const directoryVersionMigration: Migration = {
  id: '0007-directory-version',
  sql: `
  CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  );
  INSERT INTO directory_version (id, version) VALUES (1, 0);
${DIRECTORY_TABLES.flatMap((table) =>
  (['INSERT', 'UPDATE', 'DELETE'] as const).map(
    (operation) => `
  CREATE TRIGGER ${table}_${operation.toLowerCase()}_directory_version AFTER ${operation} ON ${table}
  BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
  END;`,
  ),
).join('\n')}
`,
};
