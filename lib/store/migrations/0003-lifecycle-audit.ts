import type { Migration } from './migration.js';

/**
 * Session lifecycle, credential retirement, signing-key rollover and the
 * hash-chained audit trail.
 *
 * - sessions.last_activity_at: the inactivity window is measured from it; a
 *   partial index keeps the idle sweep proportional to what is live.
 * - task_end_queue: filled by a trigger whenever a task leaves OPEN, by any code
 *   path, so the cleanup policy sees every task end exactly in commit order.
 * - signing_keys: rollover schedule (activates_at, activated_at, retired_at,
 *   published_until); at most one published next key.
 * - audit_log / audit_checkpoints: append-only; UPDATE and DELETE are refused by
 *   triggers and an INSERT must extend the head of the chain. Verification never
 *   relies on these triggers (an attacker with the file can drop them).
 */
export const lifecycleAuditMigration: Migration = {
  id: '0003-lifecycle-audit',
  sql: `
  ALTER TABLE sessions ADD COLUMN last_activity_at INTEGER;
  UPDATE sessions SET last_activity_at = created_at;
  CREATE INDEX sessions_idle ON sessions(last_activity_at) WHERE revoked_at IS NULL;

  ALTER TABLE agent_certificates ADD COLUMN retire_reason TEXT;

  CREATE TABLE task_end_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    status TEXT NOT NULL,
    ended_at INTEGER NOT NULL
  );
  CREATE TRIGGER tasks_ended_enqueue AFTER UPDATE OF status ON tasks
    WHEN OLD.status = 'OPEN' AND NEW.status <> 'OPEN'
  BEGIN
    INSERT INTO task_end_queue (task_id, agent_id, status, ended_at)
    VALUES (NEW.id, NEW.agent_id, NEW.status, COALESCE(NEW.ended_at, 0));
  END;

  ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
  ALTER TABLE signing_keys ADD COLUMN activated_at INTEGER;
  ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
  ALTER TABLE signing_keys ADD COLUMN published_until INTEGER;
  UPDATE signing_keys SET activated_at = created_at WHERE state = 'current';
  CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys(purpose) WHERE state = 'next';

  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    agent_id TEXT,
    agent_user_name TEXT,
    task_id TEXT,
    sp_entity_id TEXT,
    assertion_id TEXT,
    session_id TEXT,
    model_hash TEXT,
    source_commit TEXT,
    training_data_version TEXT,
    reason TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_log_agent ON audit_log(agent_id, seq);
  CREATE INDEX audit_log_agent_user_name ON audit_log(agent_user_name COLLATE NOCASE, seq);
  CREATE INDEX audit_log_task ON audit_log(task_id, seq);
  CREATE INDEX audit_log_at ON audit_log(at);
  CREATE INDEX audit_log_assertion ON audit_log(assertion_id) WHERE assertion_id IS NOT NULL;
  CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
    WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
      OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                                       '0000000000000000000000000000000000000000000000000000000000000000')
  BEGIN
    SELECT RAISE(ABORT, 'audit_log: an entry must extend the head of the chain');
  END;
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
  END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
  END;

  CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    at INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    signature TEXT NOT NULL
  );
  CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
  BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
  END;
  CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
  BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
  END;
  `,
};
