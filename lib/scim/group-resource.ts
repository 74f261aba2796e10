/** Roles as SCIM Groups: canonical document ↔ the group repository's write and read shapes. */
import { isoSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import type { Group, GroupWrite } from '../roles/group.js';
import { isJsonObject, own, type JsonObject } from './attribute-path.js';
import { SCIM_SCHEMAS } from './schemas.js';
import { MAX_MEMBER_VALUES } from './resource-document.js';
import { SCOPE_PATTERN } from './user-resource.js';

function invalid(message: string): TesseraError {
  return new TesseraError('invalid_value', message);
}

export function groupWriteFromDocument(document: JsonObject): GroupWrite {
  const displayName = own(document, 'displayName');
  if (typeof displayName !== 'string' || displayName.trim() === '') throw invalid('displayName is required: a non-empty string');
  const externalId = own(document, 'externalId');
  const members = own(document, 'members');
  const memberIds: string[] = [];
  for (const member of Array.isArray(members) ? members : []) {
    const value = isJsonObject(member) ? own(member, 'value') : undefined;
    if (typeof value !== 'string' || value === '') throw invalid('each member needs a value: the id of a User');
    const type = isJsonObject(member) ? own(member, 'type') : undefined;
    if (type !== undefined && type !== 'User') throw invalid('members must be Users: Tessera has no nested groups');
    if (!memberIds.includes(value)) memberIds.push(value);
  }
  if (memberIds.length > MAX_MEMBER_VALUES) throw invalid(`a Group has at most ${MAX_MEMBER_VALUES} members`);
  const role = own(document, SCIM_SCHEMAS.role);
  const rawScopes = isJsonObject(role) ? own(role, 'scopes') : undefined;
  const scopes = (Array.isArray(rawScopes) ? rawScopes : []).filter((s): s is string => typeof s === 'string');
  for (const scope of scopes) if (!SCOPE_PATTERN.test(scope)) throw invalid(`scopes: "${scope.slice(0, 100)}" is not a valid scope token`);
  return { displayName, externalId: typeof externalId === 'string' ? externalId : undefined, scopes: [...new Set(scopes)], memberIds };
}

export function groupToDocument(group: Group, location: string, userLocation: (id: string) => string): JsonObject {
  const document: JsonObject = {
    schemas: [SCIM_SCHEMAS.group, ...(group.scopes.length > 0 ? [SCIM_SCHEMAS.role] : [])],
    id: group.id,
    ...(group.externalId !== undefined ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: group.members.map((m) => ({ value: m.agentId, $ref: userLocation(m.agentId), display: m.userName, type: 'User' })),
  };
  if (group.scopes.length > 0) document[SCIM_SCHEMAS.role] = { scopes: [...group.scopes] };
  document.meta = {
    resourceType: 'Group',
    created: isoSeconds(group.createdAt),
    lastModified: isoSeconds(group.updatedAt),
    location,
    version: `W/"${group.version}"`,
  };
  return document;
}
