/** /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4): what this server does, exactly. */
import { ALL_SCHEMAS, RESOURCE_TYPES, type ResourceTypeDefinition, type SchemaDefinition } from './schema-definitions.js';
import { MAX_RESULTS } from './list-query.js';
import { SCIM_SCHEMAS } from './schemas.js';

export function serviceProviderConfig(baseUrl: string, maxPayloadBytes: number): Record<string, unknown> {
  return {
    schemas: [SCIM_SCHEMAS.serviceProviderConfig],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: `An orchestrator token from "tessera token create", in the Authorization header only (request bodies up to ${maxPayloadBytes} bytes).`,
        specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypeDocument(resourceType: ResourceTypeDefinition, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCIM_SCHEMAS.resourceType],
    id: resourceType.id,
    name: resourceType.name,
    endpoint: resourceType.endpoint,
    description: resourceType.description,
    schema: resourceType.schema.id,
    schemaExtensions: resourceType.extensions.map((extension) => ({ schema: extension.schema.id, required: extension.required })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${resourceType.id}` },
  };
}

export function schemaDocument(schema: SchemaDefinition, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCIM_SCHEMAS.schema],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

export function listOf(resources: readonly Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [SCIM_SCHEMAS.listResponse], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

export function findResourceType(id: string): ResourceTypeDefinition | undefined {
  return RESOURCE_TYPES.find((resourceType) => resourceType.id.toLowerCase() === id.toLowerCase());
}

export function findSchema(id: string): SchemaDefinition | undefined {
  return ALL_SCHEMAS.find((schema) => schema.id.toLowerCase() === id.toLowerCase());
}
