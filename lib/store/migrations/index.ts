import type { Migration } from './migration.js';
import { coreMigration } from './0001-core.js';
import { scimGroupsLogoutMigration } from './0002-scim-groups-logout.js';
import { lifecycleAuditMigration } from './0003-lifecycle-audit.js';
import { policyRiskApprovalsMigration } from './0005-policy-risk-approvals.js';
import { sessionsLiveByNameIdMigration } from './0006-sessions-live-by-name-id.js';
import { directoryVersionMigration } from './0007-directory-version.js';
import { liveSessionIndexesByKeyMigration } from './0008-live-session-indexes-by-key.js';
import { logoutOutboxFinishedMigration } from './0009-logout-outbox-finished.js';
import { agentsByCreationMigration } from './0010-agents-by-creation.js';
import { agentsByExternalIdMigration } from './0011-agents-by-external-id.js';

export type { Migration } from './migration.js';

/** Every migration of this release; add new ones here, one line each. */
export const migrations: readonly Migration[] = [coreMigration, scimGroupsLogoutMigration, lifecycleAuditMigration, policyRiskApprovalsMigration, sessionsLiveByNameIdMigration, directoryVersionMigration, liveSessionIndexesByKeyMigration, logoutOutboxFinishedMigration, agentsByCreationMigration, agentsByExternalIdMigration].sort((a, b) => a.id.localeCompare(b.id));
