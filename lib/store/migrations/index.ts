import type { Migration } from './migration.js';
import { coreMigration } from './0001-core.js';

export type { Migration } from './migration.js';

/** Every migration of this release; add new ones here, one line each. */
export const migrations: readonly Migration[] = [coreMigration].sort((a, b) => a.id.localeCompare(b.id));
