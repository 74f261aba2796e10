import type { SqliteDatabase } from './database.js';
import { entryFromEvent } from '../audit/audit-entry.js';
import type { Issuance, IssuanceRepository, IssuedSession } from '../sessions/issuance.js';
import type { SqliteAuditStore } from './sqlite-audit.js';
import type { SqliteRiskRepository } from './sqlite-risk.js';
import type { SqliteSessionRepository } from './sqlite-sessions.js';

/** The sign-on's session, risk learning and audit entry in one transaction of one connection. */
export class SqliteIssuanceRepository implements IssuanceRepository {
  private readonly issueTx;

  constructor(
    db: SqliteDatabase,
    sessions: SqliteSessionRepository,
    risk: SqliteRiskRepository,
    audit: SqliteAuditStore,
  ) {
    this.issueTx = db.transaction((issuance: Issuance): IssuedSession | undefined => {
      // The session first: a task that ended meanwhile leaves nothing behind, the baseline included.
      const opened = sessions.openOrRefreshWithin(issuance.candidate, issuance.now, issuance.idleSince);
      if (!opened) return undefined;
      if (issuance.learning) risk.learnWithin(issuance.learning);
      const event = issuance.audit(opened);
      return { opened, audited: { event, entry: audit.appendWithin(entryFromEvent(event, issuance.now)) } };
    });
  }

  async issue(issuance: Issuance): Promise<IssuedSession | undefined> {
    return this.issueTx.immediate(issuance);
  }
}
