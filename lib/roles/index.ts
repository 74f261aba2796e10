export type { Group, GroupMember, GroupWrite, GroupChange } from './group.js';
export type { GroupRepository } from './group-repository.js';
