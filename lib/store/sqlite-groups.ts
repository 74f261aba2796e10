import type { SqliteDatabase } from './database.js';
import type { Group, GroupChange, GroupMember, GroupWrite } from '../roles/group.js';
import type { GroupRepository } from '../roles/group-repository.js';
import { TesseraError } from '../common/errors.js';
import { fromMillis, parseJson, toMillis } from './rows.js';

interface GroupRow {
  id: string;
  display_name: string;
  external_id: string | null;
  scopes: string;
  version: number;
  created_at: number;
  updated_at: number;
}

export class SqliteGroupRepository implements GroupRepository {
  private readonly insertGroup;
  private readonly byId;
  private readonly all;
  private readonly membersOf;
  private readonly agentExists;
  private readonly insertMember;
  private readonly removeMember;
  private readonly updateGroup;
  private readonly deleteGroup;

  constructor(private readonly db: SqliteDatabase) {
    this.insertGroup = db.prepare<[string, string, string | null, string, number, number]>(
      `INSERT INTO groups (id, display_name, external_id, scopes, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)`,
    );
    this.byId = db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE id = ?');
    this.all = db.prepare<[], GroupRow>('SELECT * FROM groups ORDER BY created_at, id');
    this.membersOf = db.prepare<[string], { agent_id: string; user_name: string }>(
      `SELECT m.agent_id, a.user_name FROM group_members m JOIN agents a ON a.id = m.agent_id WHERE m.group_id = ? ORDER BY m.added_at, m.rowid`,
    );
    this.agentExists = db.prepare<[string], { id: string }>('SELECT id FROM agents WHERE id = ?');
    this.insertMember = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO group_members (group_id, agent_id, added_at) VALUES (?, ?, ?)');
    this.removeMember = db.prepare<[string, string]>('DELETE FROM group_members WHERE group_id = ? AND agent_id = ?');
    this.updateGroup = db.prepare<[string, string | null, string, number, string], GroupRow>(
      `UPDATE groups SET display_name = ?, external_id = ?, scopes = ?, version = version + 1, updated_at = ? WHERE id = ? RETURNING *`,
    );
    this.deleteGroup = db.prepare<[string]>('DELETE FROM groups WHERE id = ?');
  }

  private hydrate(row: GroupRow): Group {
    const members: GroupMember[] = this.membersOf.all(row.id).map((m) => ({ agentId: m.agent_id, userName: m.user_name }));
    return {
      id: row.id,
      displayName: row.display_name,
      externalId: row.external_id ?? undefined,
      scopes: parseJson<string[]>(row.scopes),
      members,
      version: row.version,
      createdAt: fromMillis(row.created_at),
      updatedAt: fromMillis(row.updated_at),
    };
  }

  /** Members who stay keep their added_at, so the listing order is stable across PUTs. */
  private setMembers(groupId: string, memberIds: readonly string[], at: Date): void {
    for (const id of memberIds) {
      if (!this.agentExists.get(id)) throw new TesseraError('invalid_value', `members: no User with id "${id.slice(0, 100)}"`);
    }
    const wanted = new Set(memberIds);
    for (const member of this.membersOf.all(groupId)) if (!wanted.has(member.agent_id)) this.removeMember.run(groupId, member.agent_id);
    for (const id of wanted) this.insertMember.run(groupId, id, toMillis(at));
  }

  async create(id: string, group: GroupWrite, at: Date): Promise<Group> {
    return this.db.transaction(() => {
      this.insertGroup.run(id, group.displayName, group.externalId ?? null, JSON.stringify(group.scopes), toMillis(at), toMillis(at));
      this.setMembers(id, group.memberIds, at);
      return this.hydrate(this.byId.get(id)!);
    }).immediate();
  }

  async get(id: string): Promise<Group | undefined> {
    const row = this.byId.get(id);
    return row ? this.hydrate(row) : undefined;
  }

  async list(): Promise<Group[]> {
    return this.db.transaction(() => this.all.all().map((row) => this.hydrate(row)))();
  }

  async replace(id: string, group: GroupWrite, at: Date, expectedVersion: number | undefined): Promise<GroupChange | undefined> {
    return this.db.transaction((): GroupChange | undefined => {
      const row = this.byId.get(id);
      if (!row) return undefined;
      if (expectedVersion !== undefined && row.version !== expectedVersion) {
        throw new TesseraError('precondition_failed', `the Group is at version W/"${row.version}", not W/"${expectedVersion}"`);
      }
      const previous = this.hydrate(row);
      const updated = this.updateGroup.get(group.displayName, group.externalId ?? null, JSON.stringify(group.scopes), toMillis(at), id)!;
      this.setMembers(id, group.memberIds, at);
      return { group: this.hydrate(updated), previous };
    }).immediate();
  }

  async delete(id: string, expectedVersion: number | undefined): Promise<Group | undefined> {
    return this.db.transaction((): Group | undefined => {
      const row = this.byId.get(id);
      if (!row) return undefined;
      if (expectedVersion !== undefined && row.version !== expectedVersion) {
        throw new TesseraError('precondition_failed', `the Group is at version W/"${row.version}", not W/"${expectedVersion}"`);
      }
      const group = this.hydrate(row);
      this.deleteGroup.run(id);
      return group;
    }).immediate();
  }
}
