/**
 * Reads a resource sent by a client (POST, PUT, or the result of a PATCH) into a
 * canonical document: attribute names as the schema spells them, values of the
 * schema's types ("True"/"False" strings, as Entra ID sends them, become booleans),
 * readOnly attributes and unknown attributes dropped (RFC 7644 §3.3: a client may send
 * what it has; the server keeps what it supports). Tessera's own extensions are strict:
 * a misspelt "allowedCidrs" silently dropped would lift a restriction, so unknown names
 * there are refused. Only names from the schema are ever written as keys.
 */
import { TesseraError } from '../common/errors.js';
import { findAttribute, findExtension, isJsonObject, type Json, type JsonObject } from './attribute-path.js';
import { parseDateTime } from './filter.js';
import { COMMON_ATTRIBUTES, type AttributeDefinition, type ResourceTypeDefinition, type SchemaDefinition } from './schema-definitions.js';
import { SCIM_SCHEMAS } from './schemas.js';

export const MAX_STRING_LENGTH = 2048;
export const MAX_BINARY_LENGTH = 16 * 1024;
export const MAX_VALUES = 100;
/** A Group's members: the request body cap (http.maxJsonBytes) binds first in practice. */
export const MAX_MEMBER_VALUES = 10_000;

/** Extensions whose unknown attributes are refused rather than ignored. */
const STRICT_EXTENSIONS = new Set<string>([SCIM_SCHEMAS.agent, SCIM_SCHEMAS.role]);

function invalidValue(message: string): TesseraError {
  return new TesseraError('invalid_value', message);
}

/** Reads a whole resource body. @throws TesseraError invalid_syntax | invalid_value */
export function readResourceDocument(body: unknown, resourceType: ResourceTypeDefinition): JsonObject {
  if (!isJsonObject(body)) throw new TesseraError('invalid_syntax', `the body must be a SCIM ${resourceType.name} object`);
  const schemas = body.schemas;
  const core = resourceType.schema.id.toLowerCase();
  if (!Array.isArray(schemas) || !schemas.some((schema) => typeof schema === 'string' && schema.toLowerCase() === core)) {
    throw new TesseraError('invalid_syntax', `schemas must include ${resourceType.schema.id}`);
  }
  const document: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === 'schemas') continue;
    if (/^urn:/i.test(key)) {
      const extension = findExtension(resourceType, key);
      if (extension === undefined) continue;
      if (value === null) continue;
      document[extension.id] = readExtension(extension, value);
      continue;
    }
    const definition = findAttribute(resourceType.schema.attributes, key) ?? findAttribute(COMMON_ATTRIBUTES, key);
    if (definition === undefined || definition.mutability === 'readOnly') continue;
    const canonical = canonicalValue(definition, value, definition.name, false);
    if (canonical !== undefined) document[definition.name] = canonical;
  }
  return document;
}

export function readExtension(schema: SchemaDefinition, value: unknown): JsonObject {
  if (!isJsonObject(value)) throw invalidValue(`${schema.id} must be an object`);
  const strict = STRICT_EXTENSIONS.has(schema.id);
  const extension: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    const definition = findAttribute(schema.attributes, key);
    if (definition === undefined) {
      if (strict) throw new TesseraError('invalid_syntax', `unknown attribute "${key.slice(0, 100)}" in ${schema.id}`);
      continue;
    }
    if (definition.mutability === 'readOnly') continue;
    const canonical = canonicalValue(definition, inner, `${schema.id}:${definition.name}`, strict);
    if (canonical !== undefined) extension[definition.name] = canonical;
  }
  return extension;
}

/**
 * One attribute's value in canonical form; undefined when it carries nothing (null, or
 * an empty multi-valued list), which reads as "unassigned".
 */
export function canonicalValue(definition: AttributeDefinition, value: unknown, where: string, strict: boolean): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (definition.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    const limit = definition.name === 'members' ? MAX_MEMBER_VALUES : MAX_VALUES;
    if (list.length > limit) throw invalidValue(`${where} has more than ${limit} values`);
    const values = list.map((item) => singleValue(definition, item, where, strict)).filter((item): item is Json => item !== undefined);
    return values.length === 0 ? undefined : values;
  }
  if (Array.isArray(value)) throw invalidValue(`${where} is single-valued`);
  return singleValue(definition, value, where, strict);
}

export function singleValue(definition: AttributeDefinition, value: unknown, where: string, strict: boolean): Json | undefined {
  if (value === null || value === undefined) return undefined;
  switch (definition.type) {
    case 'complex': {
      if (!isJsonObject(value)) throw invalidValue(`${where} must be an object`);
      const complex: JsonObject = {};
      for (const [key, inner] of Object.entries(value)) {
        const sub = findAttribute(definition.subAttributes ?? [], key);
        if (sub === undefined) {
          if (strict) throw new TesseraError('invalid_syntax', `unknown sub-attribute "${key.slice(0, 100)}" in ${where}`);
          continue;
        }
        if (sub.mutability === 'readOnly') continue;
        const canonical = singleValue(sub, inner, `${where}.${sub.name}`, strict);
        if (canonical !== undefined) complex[sub.name] = canonical;
      }
      return Object.keys(complex).length === 0 ? undefined : complex;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw invalidValue(`${where} must be a boolean`);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      throw invalidValue(`${where} must be an integer`);
    case 'decimal':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw invalidValue(`${where} must be a number`);
    case 'dateTime':
      if (typeof value === 'string' && parseDateTime(value) !== undefined) return value;
      throw invalidValue(`${where} must be an xsd:dateTime`);
    case 'binary':
      if (typeof value === 'string' && value.length <= MAX_BINARY_LENGTH) return value;
      throw invalidValue(`${where} must be a base64 string of at most ${MAX_BINARY_LENGTH} characters`);
    default:
      if (typeof value === 'string' && value.length <= MAX_STRING_LENGTH) return value;
      throw invalidValue(`${where} must be a string of at most ${MAX_STRING_LENGTH} characters`);
  }
}
