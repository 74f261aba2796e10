import type { Group, GroupChange, GroupWrite } from './group.js';

/** Group (role) records. Every method is one atomic operation. */
export interface GroupRepository {
  /** @throws TesseraError('invalid_value') when a member id names no agent */
  create(id: string, group: GroupWrite, at: Date): Promise<Group>;
  get(id: string): Promise<Group | undefined>;
  /** Every group, oldest first. */
  list(): Promise<Group[]>;
  /**
   * @param expectedVersion when set, the change happens only at that version
   * @throws TesseraError('precondition_failed') on a version mismatch; ('invalid_value') for an unknown member
   */
  replace(id: string, group: GroupWrite, at: Date, expectedVersion: number | undefined): Promise<GroupChange | undefined>;
  delete(id: string, expectedVersion: number | undefined): Promise<Group | undefined>;
}
