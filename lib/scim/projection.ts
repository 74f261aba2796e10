/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9). Names that are not
 * attributes of the resource are ignored (a client may ask for what it knows about);
 * text that is not an attribute path at all is refused.
 */
import { TesseraError } from '../common/errors.js';
import { isJsonObject, own, resolveName, type JsonObject, type ResolvedName } from './attribute-path.js';
import type { ResourceTypeDefinition } from './schema-definitions.js';

export interface Projection {
  readonly attributes: readonly ResolvedName[] | undefined;
  readonly excluded: readonly ResolvedName[];
}

const PATH_SYNTAX = /^(urn:[A-Za-z0-9:._-]+|[A-Za-z][A-Za-z0-9_$-]*(\.[A-Za-z$][A-Za-z0-9_$-]*)?)$/;
const ALWAYS = new Set(['id', 'schemas']);

function parseList(text: string | undefined, resourceType: ResourceTypeDefinition, parameter: string): ResolvedName[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length > 100) throw new TesseraError('invalid_value', `${parameter} names more than 100 attributes`);
  const resolved: ResolvedName[] = [];
  for (const name of names) {
    if (!PATH_SYNTAX.test(name)) throw new TesseraError('invalid_value', `${parameter}: "${name.slice(0, 100)}" is not an attribute path`);
    try {
      resolved.push(resolveName(resourceType, name, 'invalid_value'));
    } catch (error) {
      if (!(error instanceof TesseraError)) throw error;
    }
  }
  return resolved;
}

export function parseProjection(attributes: string | undefined, excluded: string | undefined, resourceType: ResourceTypeDefinition): Projection {
  return {
    attributes: parseList(attributes, resourceType, 'attributes'),
    excluded: parseList(excluded, resourceType, 'excludedAttributes') ?? [],
  };
}

export function project(document: JsonObject, projection: Projection): JsonObject {
  if (projection.attributes !== undefined) return include(document, projection.attributes);
  let result = document;
  for (const name of projection.excluded) result = exclude(result, name);
  return result;
}

function include(document: JsonObject, names: readonly ResolvedName[]): JsonObject {
  const result: JsonObject = {};
  for (const key of Object.keys(document)) if (ALWAYS.has(key)) result[key] = document[key] as JsonObject;
  for (const name of names) {
    if (name.kind === 'extension') {
      const value = own(document, name.schema.id);
      if (value !== undefined) result[name.schema.id] = value;
      continue;
    }
    const { extension, attribute, sub } = name.path;
    const source = extension === undefined ? document : own(document, extension);
    if (!isJsonObject(source)) continue;
    const value = own(source, attribute.name);
    if (value === undefined) continue;
    const target = extension === undefined ? result : ensure(result, extension);
    if (sub === undefined) {
      target[attribute.name] = value;
    } else if (Array.isArray(value)) {
      const existing = own(target, attribute.name);
      const picked = value.map((element, index) => {
        const previous = Array.isArray(existing) && isJsonObject(existing[index]) ? (existing[index] as JsonObject) : {};
        return isJsonObject(element) && own(element, sub.name) !== undefined ? { ...previous, [sub.name]: own(element, sub.name)! } : previous;
      });
      target[attribute.name] = picked;
    } else if (isJsonObject(value) && own(value, sub.name) !== undefined) {
      const existing = own(target, attribute.name);
      target[attribute.name] = { ...(isJsonObject(existing) ? existing : {}), [sub.name]: own(value, sub.name)! };
    }
  }
  return result;
}

function ensure(object: JsonObject, key: string): JsonObject {
  const existing = own(object, key);
  if (isJsonObject(existing)) return existing;
  const created: JsonObject = {};
  object[key] = created;
  return created;
}

function exclude(document: JsonObject, name: ResolvedName): JsonObject {
  const result = { ...document };
  if (name.kind === 'extension') {
    delete result[name.schema.id];
    return result;
  }
  const { extension, attribute, sub } = name.path;
  if (attribute.returned === 'always') return result;
  if (extension === undefined) {
    if (sub === undefined) delete result[attribute.name];
    else result[attribute.name] = withoutSub(own(result, attribute.name), sub.name) as JsonObject;
    return result;
  }
  const container = own(result, extension);
  if (!isJsonObject(container)) return result;
  const copy = { ...container };
  if (sub === undefined) delete copy[attribute.name];
  else copy[attribute.name] = withoutSub(own(copy, attribute.name), sub.name) as JsonObject;
  result[extension] = copy;
  return result;
}

function withoutSub(value: unknown, sub: string): unknown {
  const strip = (element: unknown) => {
    if (!isJsonObject(element)) return element;
    const copy = { ...element };
    delete copy[sub];
    return copy;
  };
  return Array.isArray(value) ? value.map(strip) : strip(value);
}
