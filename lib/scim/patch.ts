/**
 * PATCH (RFC 7644 §3.5.2) as a pure function: the operations are applied to a copy of
 * the resource's current document, and the result is then read like a PUT body, so one
 * set of checks guards both. Paths are resolved against the schema before anything is
 * touched: an unknown path, `__proto__` or `constructor.prototype` is an invalidPath
 * error, a readOnly target (id, meta, groups) a mutability error, and the whole request
 * fails without a change. Only canonical names from the schema are ever used as keys.
 *
 * Accepted beside the RFC's own shapes, as real clients send them: op names in any case
 * (Entra's "Replace"), a value object without path whose keys are attribute paths
 * (Okta's {"op":"replace","value":{"active":false}}), "True"/"False" strings for
 * booleans, and remove with a value list on members (Entra's member removal).
 */
import { TesseraError } from '../common/errors.js';
import { isJsonObject, own, resolveName, type AttributePath, type Json, type JsonObject } from './attribute-path.js';
import { parsePatchPath, type Filter, type PatchPath } from './filter.js';
import { matchesFilter } from './filter-evaluator.js';
import { canonicalValue, singleValue } from './resource-document.js';
import type { AttributeDefinition, ResourceTypeDefinition } from './schema-definitions.js';
import { SCIM_SCHEMAS } from './schemas.js';

export const MAX_PATCH_OPERATIONS = 100;

type OperationKind = 'add' | 'replace' | 'remove';

function syntax(message: string): TesseraError {
  return new TesseraError('invalid_syntax', message);
}

/** Applies a PatchOp request to a copy of `document`; returns the patched copy. */
export function applyPatch(document: JsonObject, body: unknown, resourceType: ResourceTypeDefinition, resourceId: string): JsonObject {
  if (!isJsonObject(body)) throw syntax('the body must be a PatchOp object');
  const schemas = own(body, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCIM_SCHEMAS.patchOp.toLowerCase())) {
    throw syntax(`schemas must include ${SCIM_SCHEMAS.patchOp}`);
  }
  const operations = own(body, 'Operations') ?? own(body, 'operations');
  if (!Array.isArray(operations) || operations.length === 0) throw syntax('Operations must be a non-empty array');
  if (operations.length > MAX_PATCH_OPERATIONS) throw syntax(`at most ${MAX_PATCH_OPERATIONS} operations per request`);
  const result = structuredClone(document);
  for (const operation of operations) {
    if (!isJsonObject(operation)) throw syntax('each operation must be an object');
    const op = own(operation, 'op');
    const kind = typeof op === 'string' ? op.toLowerCase() : '';
    if (kind !== 'add' && kind !== 'replace' && kind !== 'remove') throw syntax(`op must be add, replace or remove, not ${JSON.stringify(op)}`);
    const path = own(operation, 'path');
    const value = own(operation, 'value');
    if (path === undefined || path === null || path === '') {
      if (kind === 'remove') throw new TesseraError('scim_no_target', 'remove needs a path');
      applyValueObject(result, kind, value, resourceType, resourceId);
      continue;
    }
    if (typeof path !== 'string') throw new TesseraError('scim_invalid_path', 'path must be a string');
    const parsed = parsePatchPath(path, resourceType);
    checkMutability(parsed.path, parsed.subAfterFilter);
    apply(result, kind, parsed, value);
  }
  return result;
}

/** A value object without path: each key is an attribute path (or an extension URN) of the resource. */
function applyValueObject(result: JsonObject, kind: OperationKind, value: Json | undefined, resourceType: ResourceTypeDefinition, resourceId: string): void {
  if (!isJsonObject(value)) throw new TesseraError('invalid_value', `${kind} without path needs an object value`);
  for (const [key, inner] of Object.entries(value)) {
    if (key.toLowerCase() === 'schemas') continue;
    const resolved = resolveName(resourceType, key, 'scim_invalid_path');
    if (resolved.kind === 'extension') {
      if (!isJsonObject(inner)) throw new TesseraError('invalid_value', `${resolved.schema.id} must be an object`);
      for (const [name, extensionValue] of Object.entries(inner)) {
        const path = resolveName(resourceType, `${resolved.schema.id}:${name}`, 'scim_invalid_path');
        if (path.kind !== 'attribute') throw new TesseraError('scim_invalid_path', `"${name.slice(0, 100)}" is not an attribute`);
        checkMutability(path.path, undefined);
        apply(result, kind, { path: path.path, filter: undefined, subAfterFilter: undefined }, extensionValue);
      }
      continue;
    }
    const path = resolved.path;
    // Okta names the resource's own id inside a rename: harmless when it is this resource's id.
    if (path.attribute.name === 'id' && path.extension === undefined && path.sub === undefined && inner === resourceId) continue;
    checkMutability(path, undefined);
    apply(result, kind, { path, filter: undefined, subAfterFilter: undefined }, inner);
  }
}

function checkMutability(path: AttributePath, subAfterFilter: AttributeDefinition | undefined): void {
  const targets = [path.attribute, path.sub, subAfterFilter].filter((d): d is AttributeDefinition => d !== undefined);
  const readOnly = targets.find((d) => d.mutability === 'readOnly');
  if (readOnly) throw new TesseraError('scim_mutability', `${readOnly.name} is readOnly`);
}

function containerFor(result: JsonObject, path: AttributePath): JsonObject {
  if (path.extension === undefined) return result;
  const existing = own(result, path.extension);
  if (isJsonObject(existing)) return existing;
  const created: JsonObject = {};
  result[path.extension] = created;
  return created;
}

function setOrDelete(object: JsonObject, key: string, value: Json | undefined): void {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) delete object[key];
  else object[key] = value;
}

function apply(result: JsonObject, kind: OperationKind, target: PatchPath, value: Json | undefined): void {
  const container = containerFor(result, target.path);
  const { attribute, sub } = target.path;
  const where = attribute.name;
  if (target.filter !== undefined) {
    applyFiltered(container, kind, attribute, target.filter, target.subAfterFilter, value);
  } else if (sub !== undefined) {
    applySub(container, kind, attribute, sub, value);
  } else if (kind === 'remove') {
    if (attribute.multiValued && value !== undefined && value !== null) removeValues(container, attribute, value);
    else delete container[attribute.name];
  } else if (attribute.multiValued) {
    const values = (canonicalValue(attribute, value, where, false) ?? []) as Json[];
    const existing = kind === 'add' ? elements(container, attribute) : [];
    const merged = [...existing];
    for (const added of values) if (!merged.some((current) => sameValue(attribute, current, added))) merged.push(added);
    setOrDelete(container, attribute.name, onePrimary(attribute, merged, values));
  } else if (attribute.type === 'complex') {
    const current = own(container, attribute.name);
    const incoming = singleValue(attribute, value, where, false);
    setOrDelete(container, attribute.name, isJsonObject(incoming) ? { ...(isJsonObject(current) ? current : {}), ...incoming } : undefined);
  } else {
    setOrDelete(container, attribute.name, singleValue(attribute, value, where, false));
  }
  if (target.path.extension !== undefined && Object.keys(container).length === 0) delete result[target.path.extension];
}

function elements(container: JsonObject, attribute: AttributeDefinition): Json[] {
  const current = own(container, attribute.name);
  return Array.isArray(current) ? [...current] : current === undefined || current === null ? [] : [current];
}

/** `name.givenName`, `manager.value`: a sub-attribute of a single-valued complex attribute. */
function applySub(container: JsonObject, kind: OperationKind, attribute: AttributeDefinition, sub: AttributeDefinition, value: Json | undefined): void {
  if (attribute.multiValued) {
    if (kind !== 'remove') throw new TesseraError('scim_invalid_path', `${attribute.name} is multi-valued: select values with a filter, e.g. ${attribute.name}[type eq "work"].${sub.name}`);
    const updated = elements(container, attribute).map((element) => (isJsonObject(element) ? without(element, sub.name) : element));
    setOrDelete(container, attribute.name, updated);
    return;
  }
  const current = own(container, attribute.name);
  const object: JsonObject = isJsonObject(current) ? { ...current } : {};
  if (kind === 'remove') delete object[sub.name];
  else setOrDelete(object, sub.name, singleValue(sub, value, `${attribute.name}.${sub.name}`, false));
  setOrDelete(container, attribute.name, Object.keys(object).length === 0 ? undefined : object);
}

function applyFiltered(
  container: JsonObject,
  kind: OperationKind,
  attribute: AttributeDefinition,
  filter: Filter,
  sub: AttributeDefinition | undefined,
  value: Json | undefined,
): void {
  const all = elements(container, attribute);
  const matches = all.filter((element) => isJsonObject(element) && matchesFilter(element, filter)) as JsonObject[];
  if (kind === 'remove') {
    const kept = sub === undefined ? all.filter((element) => !matches.includes(element as JsonObject)) : all.map((element) => (matches.includes(element as JsonObject) ? without(element as JsonObject, sub.name) : element));
    setOrDelete(container, attribute.name, kept);
    return;
  }
  const where = sub ? `${attribute.name}.${sub.name}` : attribute.name;
  const incoming = sub ? singleValue(sub, value, where, false) : singleValue(attribute, value, where, false);
  if (!sub && !isJsonObject(incoming)) throw new TesseraError('invalid_value', `${attribute.name} values are objects`);
  const patchOf = (element: JsonObject): JsonObject => {
    if (sub) return { ...element, [sub.name]: incoming as Json };
    return kind === 'replace' ? (incoming as JsonObject) : { ...element, ...(incoming as JsonObject) };
  };
  if (matches.length === 0) {
    const template = kind === 'add' ? equalityTemplate(filter) : undefined;
    if (template === undefined) throw new TesseraError('scim_no_target', `no value of ${attribute.name} matches the filter`);
    all.push(patchOf(template));
    setOrDelete(container, attribute.name, all);
    return;
  }
  setOrDelete(container, attribute.name, all.map((element) => (matches.includes(element as JsonObject) ? patchOf(element as JsonObject) : element)));
}

/** `type eq "work" and primary eq true` → { type: "work", primary: true }: the value an add creates when none matches. */
function equalityTemplate(filter: Filter): JsonObject | undefined {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.value !== null) return { [filter.path.attribute.name]: filter.value };
  if (filter.kind === 'and') {
    const left = equalityTemplate(filter.left);
    const right = equalityTemplate(filter.right);
    return left && right ? { ...left, ...right } : undefined;
  }
  return undefined;
}

/** Entra removes members by listing them in the value of a remove on "members". */
function removeValues(container: JsonObject, attribute: AttributeDefinition, value: Json): void {
  const doomed = (canonicalValue(attribute, value, attribute.name, false) ?? []) as Json[];
  const kept = elements(container, attribute).filter((element) => !doomed.some((d) => sameValue(attribute, element, d)));
  setOrDelete(container, attribute.name, kept);
}

/** Complex values with a "value" are the same value when their values are; others when equal as JSON. */
function sameValue(attribute: AttributeDefinition, a: Json, b: Json): boolean {
  const valueSub = attribute.subAttributes?.find((s) => s.name === 'value');
  if (valueSub && isJsonObject(a) && isJsonObject(b) && own(a, 'value') !== undefined) {
    const left = own(a, 'value');
    const right = own(b, 'value');
    if (typeof left === 'string' && typeof right === 'string' && !valueSub.caseExact) {
      return left.toLowerCase() === right.toLowerCase() && own(a, 'type') === own(b, 'type');
    }
    return left === right && (attribute.name === 'members' || own(a, 'type') === own(b, 'type'));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 7643 §2.4: at most one value is primary; a newly added primary wins. */
function onePrimary(attribute: AttributeDefinition, values: Json[], added: readonly Json[]): Json[] {
  if (!attribute.subAttributes?.some((s) => s.name === 'primary')) return values;
  const newPrimary = added.find((v) => isJsonObject(v) && own(v, 'primary') === true);
  if (newPrimary === undefined) return values;
  return values.map((v) => (v !== newPrimary && isJsonObject(v) && own(v, 'primary') === true ? { ...v, primary: false } : v));
}

function without(object: JsonObject, key: string): JsonObject {
  const copy = { ...object };
  delete copy[key];
  return copy;
}
