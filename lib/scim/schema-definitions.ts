/**
 * The SCIM schemas Tessera serves, as data (RFC 7643 §7). One definition drives
 * everything that depends on attribute names: reading request bodies (canonical
 * names, types, mutability), filters (which attributes exist, case rules),
 * PATCH paths, `attributes`/`excludedAttributes`, and the /Schemas endpoint, so
 * what /Schemas says is exactly what the server does.
 */
import { SCIM_SCHEMAS } from './schemas.js';

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';

export interface AttributeDefinition {
  readonly name: string;
  readonly type: AttributeType;
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: Mutability;
  readonly returned: Returned;
  readonly uniqueness: 'none' | 'server' | 'global';
  readonly canonicalValues?: readonly string[];
  readonly referenceTypes?: readonly string[];
  readonly subAttributes?: readonly AttributeDefinition[];
}

export interface SchemaDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly AttributeDefinition[];
}

export interface ResourceTypeDefinition {
  readonly id: 'User' | 'Group';
  readonly name: string;
  readonly endpoint: '/Users' | '/Groups';
  readonly description: string;
  readonly schema: SchemaDefinition;
  readonly extensions: readonly { readonly schema: SchemaDefinition; readonly required: boolean }[];
}

type Options = Partial<Omit<AttributeDefinition, 'name' | 'type' | 'description'>>;

function attr(name: string, type: AttributeType, description: string, options: Options = {}): AttributeDefinition {
  return {
    name,
    type,
    description,
    multiValued: options.multiValued ?? false,
    required: options.required ?? false,
    caseExact: options.caseExact ?? false,
    mutability: options.mutability ?? 'readWrite',
    returned: options.returned ?? 'default',
    uniqueness: options.uniqueness ?? 'none',
    ...(options.canonicalValues ? { canonicalValues: options.canonicalValues } : {}),
    ...(options.referenceTypes ? { referenceTypes: options.referenceTypes } : {}),
    ...(options.subAttributes ? { subAttributes: options.subAttributes } : {}),
  };
}

const str = (name: string, description: string, options: Options = {}) => attr(name, 'string', description, options);

/** type/primary/display/value: the sub-attributes RFC 7643 §2.4 gives multi-valued attributes. */
function multiValued(name: string, description: string, valueType: AttributeType, types: readonly string[], extra: readonly AttributeDefinition[] = []) {
  return attr(name, 'complex', description, {
    multiValued: true,
    subAttributes: [
      attr('value', valueType, `The value of ${name}.`),
      str('display', 'A human-readable name, primarily used for display purposes.'),
      str('type', `A label indicating the ${name} function.`, types.length > 0 ? { canonicalValues: types } : {}),
      attr('primary', 'boolean', `Whether this is the primary ${name} value.`),
      ...extra,
    ],
  });
}

const readOnly: Options = { mutability: 'readOnly' };

/** RFC 7643 §4.1 and §8.7.1: the User resource, as Tessera stores it for agents. */
export const USER_SCHEMA: SchemaDefinition = {
  id: SCIM_SCHEMAS.user,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', "Unique identifier for the User (the agent's AI-Agent-ID), unique case-insensitively.", { required: true, uniqueness: 'server' }),
    attr('name', 'complex', "The components of the user's real name.", {
      subAttributes: [
        str('formatted', 'The full name.'),
        str('familyName', 'The family name.'),
        str('givenName', 'The given name.'),
        str('middleName', 'The middle name(s).'),
        str('honorificPrefix', 'The honorific prefix(es).'),
        str('honorificSuffix', 'The honorific suffix(es).'),
      ],
    }),
    str('displayName', 'The name of the User, suitable for display to end-users.'),
    str('nickName', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', "A fully qualified URL pointing to a page representing the User's online profile.", { referenceTypes: ['external'] }),
    str('title', "The user's title."),
    str('userType', 'Used to identify the relationship between the organization and the user.'),
    str('preferredLanguage', "The User's preferred written or spoken language."),
    str('locale', "The User's default location."),
    str('timezone', "The User's time zone in the 'Olson' time zone database format."),
    attr('active', 'boolean', "The agent's administrative status: false revokes every session and refuses every sign-on."),
    multiValued('emails', 'Email addresses for the user.', 'string', ['work', 'home', 'other']),
    multiValued('phoneNumbers', 'Phone numbers for the User.', 'string', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multiValued('ims', 'Instant messaging addresses for the User.', 'string', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multiValued('photos', 'URLs of photos of the User.', 'reference', ['photo', 'thumbnail']),
    attr('addresses', 'complex', 'A physical mailing address for this User.', {
      multiValued: true,
      subAttributes: [
        str('formatted', 'The full mailing address.'),
        str('streetAddress', 'The full street address component.'),
        str('locality', 'The city or locality component.'),
        str('region', 'The state or region component.'),
        str('postalCode', 'The zip code or postal code component.'),
        str('country', 'The country name component.'),
        str('type', 'A label indicating the attribute\'s function.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Whether this is the primary address.'),
      ],
    }),
    attr('groups', 'complex', 'Groups (roles) the agent belongs to; change membership through /Groups.', {
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        str('value', 'The id of the Group.', readOnly),
        attr('$ref', 'reference', 'The URI of the Group.', { ...readOnly, referenceTypes: ['Group'] }),
        str('display', 'The displayName of the Group.', readOnly),
        str('type', 'direct: Tessera has no nested groups.', { ...readOnly, canonicalValues: ['direct'] }),
      ],
    }),
    multiValued('entitlements', 'A list of entitlements for the User.', 'string', []),
    multiValued('roles', 'A list of roles for the User (kept as data; scopes are granted by Groups).', 'string', []),
    multiValued('x509Certificates', 'Certificates the agent may authenticate with (base64 DER), pinned by SHA-256 thumbprint.', 'binary', []),
  ],
};

/** RFC 7643 §4.3. */
export const ENTERPRISE_USER_SCHEMA: SchemaDefinition = {
  id: SCIM_SCHEMAS.enterpriseUser,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person.'),
    str('costCenter', 'Identifies the name of a cost center.'),
    str('organization', 'Identifies the name of an organization.'),
    str('division', 'Identifies the name of a division.'),
    str('department', 'Identifies the name of a department.'),
    attr('manager', 'complex', "The User's manager.", {
      subAttributes: [
        str('value', 'The id of the SCIM resource representing the manager.'),
        attr('$ref', 'reference', 'The URI of the manager.', { referenceTypes: ['User'] }),
        str('displayName', 'The displayName of the manager.', readOnly),
      ],
    }),
  ],
};

/** Tessera's agent extension: provenance and the limits every sign-on is checked against. */
export const AGENT_SCHEMA: SchemaDefinition = {
  id: SCIM_SCHEMAS.agent,
  name: 'Agent',
  description: 'AI agent provenance, context limits and directly granted scopes',
  attributes: [
    str('owner', 'Who answers for the agent (a team or person).'),
    str('modelHash', 'Hash of the model weights; carried in assertions as Model-Hash.', { caseExact: true }),
    str('sourceCommit', "Commit of the agent's code; carried as Source-Commit.", { caseExact: true }),
    str('trainingDataVersion', 'Training-data version; carried as Training-Data-Version.', { caseExact: true }),
    str('sensitivityTier', 'Highest tier of data the agent may handle.', { canonicalValues: ['high', 'medium', 'low'], caseExact: true }),
    str('computeZone', 'Where the agent runs; tasks may require a zone.', { caseExact: true }),
    str('allowedCidrs', 'Source address ranges the agent may sign on from (empty: any).', { multiValued: true, caseExact: true }),
    str('scopes', 'Scopes granted to the agent directly; its Groups grant more.', { multiValued: true, caseExact: true }),
  ],
};

/** RFC 7643 §4.2. Members are agents (Users) only: Tessera has no nested groups. */
export const GROUP_SCHEMA: SchemaDefinition = {
  id: SCIM_SCHEMAS.group,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the Group.', { required: true }),
    attr('members', 'complex', 'A list of members of the Group (Users only).', {
      multiValued: true,
      subAttributes: [
        str('value', 'Identifier of the member of this Group.', { mutability: 'immutable', caseExact: true }),
        attr('$ref', 'reference', 'The URI of the member.', { mutability: 'immutable', referenceTypes: ['User'] }),
        str('display', 'The userName of the member.', readOnly),
        str('type', 'The type of the member: User.', { mutability: 'immutable', canonicalValues: ['User'] }),
      ],
    }),
  ],
};

/** Tessera's role extension: the scopes a Group grants its members. */
export const ROLE_SCHEMA: SchemaDefinition = {
  id: SCIM_SCHEMAS.role,
  name: 'Role',
  description: 'Scopes granted to every member of the Group',
  attributes: [str('scopes', 'OAuth-style scope tokens granted to members.', { multiValued: true, caseExact: true })],
};

/** Common attributes (RFC 7643 §3.1): on every resource, outside any schema's attribute list. */
export const COMMON_ATTRIBUTES: readonly AttributeDefinition[] = [
  str('id', 'Unique identifier for the resource, assigned by the server.', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  str('externalId', 'Identifier of the resource as the provisioning client knows it.', { caseExact: true }),
  attr('meta', 'complex', 'Resource metadata.', {
    mutability: 'readOnly',
    subAttributes: [
      str('resourceType', 'The name of the resource type.', { ...readOnly, caseExact: true }),
      attr('created', 'dateTime', 'When the resource was added.', readOnly),
      attr('lastModified', 'dateTime', 'When the resource was last updated.', readOnly),
      attr('location', 'reference', 'The URI of the resource.', { ...readOnly, caseExact: true }),
      str('version', 'The version (ETag) of the resource.', { ...readOnly, caseExact: true }),
    ],
  }),
];

export const USER_RESOURCE: ResourceTypeDefinition = {
  id: 'User',
  name: 'User',
  endpoint: '/Users',
  description: 'AI agents',
  schema: USER_SCHEMA,
  extensions: [
    { schema: ENTERPRISE_USER_SCHEMA, required: false },
    { schema: AGENT_SCHEMA, required: false },
  ],
};

export const GROUP_RESOURCE: ResourceTypeDefinition = {
  id: 'Group',
  name: 'Group',
  endpoint: '/Groups',
  description: 'Roles: groups of agents that grant scopes',
  schema: GROUP_SCHEMA,
  extensions: [{ schema: ROLE_SCHEMA, required: false }],
};

export const RESOURCE_TYPES: readonly ResourceTypeDefinition[] = [USER_RESOURCE, GROUP_RESOURCE];
export const ALL_SCHEMAS: readonly SchemaDefinition[] = [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, AGENT_SCHEMA, GROUP_SCHEMA, ROLE_SCHEMA];
