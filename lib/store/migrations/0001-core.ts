import type { Migration } from './migration.js';

/** The core IdP: keys, SPs, orchestrator tokens, agents and their certificates, tasks, sessions, replay cache. */
export const coreMigration: Migration = {
  id: '0001-core',
  sql: `
  CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('saml-signing','tls')),
    algorithm TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('current','next','retired')),
    created_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys(purpose) WHERE state = 'current';

  CREATE TABLE service_providers (
    entity_id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    metadata_xml TEXT NOT NULL,
    registered_at INTEGER NOT NULL
  );

  CREATE TABLE orchestrator_tokens (
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE UNIQUE INDEX orchestrator_tokens_active_name ON orchestrator_tokens(name) WHERE revoked_at IS NULL;

  CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL,
    external_id TEXT,
    profile TEXT NOT NULL,
    extra_attributes TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE agent_certificates (
    thumbprint TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    pem TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    retired_at INTEGER
  );
  CREATE INDEX agent_certificates_agent ON agent_certificates(agent_id);

  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    tier TEXT NOT NULL,
    audiences TEXT NOT NULL,
    context TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('OPEN','COMPLETED','FAILED','CANCELLED')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
  );
  CREATE INDEX tasks_open_by_agent ON tasks(agent_id) WHERE status = 'OPEN';

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    session_index TEXT NOT NULL UNIQUE,
    agent_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    sp_entity_id TEXT NOT NULL,
    name_id TEXT NOT NULL,
    name_id_format TEXT NOT NULL,
    assertion_id TEXT NOT NULL UNIQUE,
    authn_method TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoke_reason TEXT
  );
  CREATE INDEX sessions_live_by_agent ON sessions(agent_id, expires_at) WHERE revoked_at IS NULL;
  CREATE INDEX sessions_live_by_task ON sessions(task_id, expires_at) WHERE revoked_at IS NULL;
  CREATE INDEX sessions_expiry ON sessions(expires_at) WHERE revoked_at IS NULL;

  CREATE TABLE replay_cache (
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, id)
  ) WITHOUT ROWID;
  CREATE INDEX replay_cache_expiry ON replay_cache(expires_at);
  `,
};
