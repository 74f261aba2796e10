import type { SqliteDatabase } from '../../lib/store/database.js';

/*
 * An audit store that refuses one kind of entry, as a full disk or a broken
 * audit table would show: a trigger, created through another connection to the
 * IdP's database file, that aborts the insert of that event.
 */

const triggerName = (event: string): string => `test_refuses_${event.replace('.', '_')}`;

export function refuseAuditOf(db: SqliteDatabase, event: string): void {
  db.exec(`CREATE TRIGGER ${triggerName(event)} BEFORE INSERT ON audit_log WHEN NEW.event = '${event}'
           BEGIN SELECT RAISE(ABORT, 'the audit store refuses this entry (test)'); END;`);
}

export function allowAuditOf(db: SqliteDatabase, event: string): void {
  db.exec(`DROP TRIGGER ${triggerName(event)}`);
}
