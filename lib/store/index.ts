import { openDatabase, type SqliteDatabase } from './database.js';
import { SqliteAgentRepository } from './sqlite-agents.js';
import { DirectoryCache } from './directory-cache.js';
import { SqliteGroupRepository } from './sqlite-groups.js';
import { SqliteLogoutOutbox } from './sqlite-logout-outbox.js';
import { SqliteKeyRepository } from './sqlite-keys.js';
import { SqliteReplayCache } from './sqlite-replay-cache.js';
import { SqliteServiceProviderRepository } from './sqlite-service-providers.js';
import { SqliteSessionLifecycle, SqliteSessionRepository } from './sqlite-sessions.js';
import { SqliteAuditStore } from './sqlite-audit.js';
import { SqliteCredentialRepository } from './sqlite-credentials.js';
import { SqliteTaskRepository } from './sqlite-tasks.js';
import { SqliteTokenRepository } from './sqlite-tokens.js';
import { SqliteRiskRepository } from './sqlite-risk.js';
import { SqliteApprovalRepository } from './sqlite-approvals.js';
import { SqliteAlertOutbox } from './sqlite-alert-outbox.js';
import { SqliteIssuanceRepository } from './sqlite-issuance.js';
import type { AgentRepository } from '../agents/agent-repository.js';
import type { GroupRepository } from '../roles/group-repository.js';
import type { LogoutOutbox } from '../sessions/logout-outbox.js';
import type { KeyRepository } from '../keys/key-repository.js';
import type { ReplayCache } from '../common/replay-cache.js';
import type { ServiceProviderRepository } from '../saml/sp-repository.js';
import type { SessionRepository } from '../sessions/session-repository.js';
import type { IssuanceRepository } from '../sessions/issuance.js';
import type { SessionLifecycleRepository } from '../sessions/lifecycle-repository.js';
import type { AuditStore } from '../audit/audit-store.js';
import type { CredentialRepository } from '../agents/credential-repository.js';
import type { TaskRepository } from '../tasks/task-repository.js';
import type { TokenRepository } from '../tokens/token-repository.js';
import type { RiskRepository } from '../risk/risk-repository.js';
import type { ApprovalRepository } from '../approvals/approval.js';
import type { AlertOutbox } from '../alerts/alert-outbox.js';

/** Every repository, over one database. A PostgreSQL store would implement the same shape. */
export interface Store {
  readonly agents: AgentRepository;
  readonly groups: GroupRepository;
  readonly logoutOutbox: LogoutOutbox;
  readonly tasks: TaskRepository;
  readonly sessions: SessionRepository;
  /** A sign-on's session, risk learning and audit entry, committed together. */
  readonly issuance: IssuanceRepository;
  readonly lifecycle: SessionLifecycleRepository;
  readonly audit: AuditStore;
  readonly credentials: CredentialRepository;
  readonly serviceProviders: ServiceProviderRepository;
  readonly tokens: TokenRepository;
  readonly keys: KeyRepository;
  readonly replay: ReplayCache;
  readonly risk: RiskRepository;
  readonly approvals: ApprovalRepository;
  readonly alertOutbox: AlertOutbox;
  close(): void;
}

export function openSqliteStore(dataDir: string, options: { readonly automaticCheckpoints?: boolean } = {}): Store {
  const db = openDatabase(dataDir);
  // A server leaves checkpoints to its checkpoint thread (wal-checkpoint.ts); otherwise the commit
  // that crosses SQLite's threshold copies the WAL that other processes' sign-ons left behind.
  if (options.automaticCheckpoints === false) db.pragma('wal_autocheckpoint = 0');
  return sqliteStore(db);
}

export function sqliteStore(db: SqliteDatabase): Store {
  const directory = new DirectoryCache(db);
  const audit = new SqliteAuditStore(db);
  const sessions = new SqliteSessionRepository(db);
  const risk = new SqliteRiskRepository(db);
  return {
    agents: new SqliteAgentRepository(db, directory, audit),
    groups: new SqliteGroupRepository(db),
    logoutOutbox: new SqliteLogoutOutbox(db),
    tasks: new SqliteTaskRepository(db),
    sessions,
    issuance: new SqliteIssuanceRepository(db, sessions, risk, audit),
    lifecycle: new SqliteSessionLifecycle(db),
    audit,
    credentials: new SqliteCredentialRepository(db),
    serviceProviders: new SqliteServiceProviderRepository(db, directory),
    tokens: new SqliteTokenRepository(db),
    keys: new SqliteKeyRepository(db),
    replay: new SqliteReplayCache(db),
    risk,
    approvals: new SqliteApprovalRepository(db),
    alertOutbox: new SqliteAlertOutbox(db),
    close: () => db.close(),
  };
}

export { DATABASE_FILE } from './database.js';
export { openGroupCommitDatabase, withBatchedWrites, withSnapshotReads, type GroupCommitDatabase } from './group-commit.js';
export { startCheckpointThread, type CheckpointThread } from './wal-checkpoint.js';
