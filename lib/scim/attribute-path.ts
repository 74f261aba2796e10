/**
 * Attribute paths (RFC 7644 §3.10): `[schemaURN ":"] attrName ["." subAttr]`, with names
 * and URNs compared case-insensitively and resolved to the schema definitions. Resolution
 * is the only way a name from a request reaches a document: everything downstream uses
 * the canonical names from the definitions, never the client's spelling.
 */
import { TesseraError, type ErrorCode } from '../common/errors.js';
import { COMMON_ATTRIBUTES, type AttributeDefinition, type ResourceTypeDefinition, type SchemaDefinition } from './schema-definitions.js';

export interface AttributePath {
  /** The extension schema URN holding the attribute; undefined for core and common attributes. */
  readonly extension: string | undefined;
  readonly attribute: AttributeDefinition;
  readonly sub: AttributeDefinition | undefined;
}

/** A path naming a whole extension object (`urn:…:enterprise:2.0:User`), or an attribute. */
export type ResolvedName = { readonly kind: 'extension'; readonly schema: SchemaDefinition } | { readonly kind: 'attribute'; readonly path: AttributePath };

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$|^\$ref$/;

export function findAttribute(list: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return list.find((candidate) => candidate.name.toLowerCase() === lower);
}

/** Every schema a resource type's documents may carry, core first. */
export function schemasOf(resourceType: ResourceTypeDefinition): SchemaDefinition[] {
  return [resourceType.schema, ...resourceType.extensions.map((extension) => extension.schema)];
}

export function findExtension(resourceType: ResourceTypeDefinition, urn: string): SchemaDefinition | undefined {
  const lower = urn.toLowerCase();
  return resourceType.extensions.map((extension) => extension.schema).find((schema) => schema.id.toLowerCase() === lower);
}

/**
 * Resolves a textual path against a resource type.
 * @param code the error to raise for an unknown or malformed path (invalidFilter, invalidPath, invalidValue)
 */
export function resolveName(resourceType: ResourceTypeDefinition, text: string, code: ErrorCode): ResolvedName {
  const fail = (why: string): never => {
    throw new TesseraError(code, `"${text.slice(0, 200)}" ${why}`);
  };
  let schema: SchemaDefinition = resourceType.schema;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const lower = text.toLowerCase();
    const match = schemasOf(resourceType).find((candidate) => lower === candidate.id.toLowerCase() || lower.startsWith(`${candidate.id.toLowerCase()}:`));
    if (match === undefined) fail(`names no schema of ${resourceType.name}`);
    schema = match as SchemaDefinition;
    if (lower === schema.id.toLowerCase()) {
      if (schema === resourceType.schema) fail('names the core schema, not an attribute');
      return { kind: 'extension', schema };
    }
    rest = text.slice(schema.id.length + 1);
  }
  const [name, subName, ...more] = rest.split('.');
  if (name === undefined || !NAME.test(name) || more.length > 0 || (subName !== undefined && !NAME.test(subName))) fail('is not an attribute path');
  const isCore = schema === resourceType.schema;
  const attribute = findAttribute(schema.attributes, name as string) ?? (isCore ? findAttribute(COMMON_ATTRIBUTES, name as string) : undefined);
  if (attribute === undefined) fail(`is not an attribute of ${resourceType.name}`);
  let sub: AttributeDefinition | undefined;
  if (subName !== undefined) {
    sub = findAttribute((attribute as AttributeDefinition).subAttributes ?? [], subName);
    if (sub === undefined) fail(`is not a sub-attribute of ${(attribute as AttributeDefinition).name}`);
  }
  return { kind: 'attribute', path: { extension: isCore ? undefined : schema.id, attribute: attribute as AttributeDefinition, sub } };
}

/** Resolves a path that must name an attribute (not a whole extension). */
export function resolveAttribute(resourceType: ResourceTypeDefinition, text: string, code: ErrorCode): AttributePath {
  const resolved = resolveName(resourceType, text, code);
  if (resolved.kind !== 'attribute') throw new TesseraError(code, `"${text.slice(0, 200)}" names a schema, not an attribute`);
  return resolved.path;
}

/** A sub-attribute name relative to a complex attribute (inside a value filter). */
export function resolveSubAttribute(parent: AttributeDefinition, text: string, code: ErrorCode): AttributePath {
  const sub = NAME.test(text) ? findAttribute(parent.subAttributes ?? [], text) : undefined;
  if (sub === undefined) throw new TesseraError(code, `"${text.slice(0, 200)}" is not a sub-attribute of ${parent.name}`);
  return { extension: undefined, attribute: sub, sub: undefined };
}

export function describePath(path: AttributePath): string {
  const local = path.sub ? `${path.attribute.name}.${path.sub.name}` : path.attribute.name;
  return path.extension ? `${path.extension}:${local}` : local;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The object holding a path's attribute: the document, or its extension object. */
export function containerOf(document: JsonObject, path: AttributePath): JsonObject | undefined {
  if (path.extension === undefined) return document;
  const container = Object.hasOwn(document, path.extension) ? document[path.extension] : undefined;
  return isJsonObject(container) ? container : undefined;
}

/** Own-property read by canonical name: never reaches the prototype chain. */
export function own(object: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
