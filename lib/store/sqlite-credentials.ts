import type { SqliteDatabase } from './database.js';
import type { CredentialRecord, CredentialRepository } from '../agents/credential-repository.js';
import { fromMillis, optionalFromMillis, toMillis } from './rows.js';

interface CredentialRow {
  thumbprint: string;
  agent_id: string;
  registered_at: number;
  retired_at: number | null;
  retire_reason: string | null;
}

function credentialFromRow(row: CredentialRow): CredentialRecord {
  return {
    thumbprint: row.thumbprint,
    agentId: row.agent_id,
    registeredAt: fromMillis(row.registered_at),
    retiredAt: optionalFromMillis(row.retired_at),
    retireReason: row.retire_reason ?? undefined,
  };
}

/** Agent certificates seen from the credential lifecycle: lookup including retired ones, and retirement. */
export class SqliteCredentialRepository implements CredentialRepository {
  private readonly byThumbprint;
  private readonly retire;

  constructor(db: SqliteDatabase) {
    this.byThumbprint = db.prepare<[string], CredentialRow>(
      'SELECT thumbprint, agent_id, registered_at, retired_at, retire_reason FROM agent_certificates WHERE thumbprint = ?',
    );
    this.retire = db.prepare<[number, string, string, number], CredentialRow>(
      `UPDATE agent_certificates SET retired_at = ?, retire_reason = ?
        WHERE agent_id = ? AND retired_at IS NULL AND registered_at <= ?
        RETURNING thumbprint, agent_id, registered_at, retired_at, retire_reason`,
    );
  }

  async find(thumbprint: string): Promise<CredentialRecord | undefined> {
    const row = this.byThumbprint.get(thumbprint);
    return row ? credentialFromRow(row) : undefined;
  }

  async retireForAgent(agentId: string, registeredBy: Date, at: Date, reason: string): Promise<CredentialRecord[]> {
    return this.retire.all(toMillis(at), reason, agentId, toMillis(registeredBy)).map(credentialFromRow);
  }
}
