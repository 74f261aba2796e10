/**
 * Evaluates a parsed filter over a SCIM document (the representation the server
 * returns), with RFC 7644 §3.4.2.2 semantics: a multi-valued attribute matches when
 * any value does; strings compare case-insensitively unless the schema says caseExact;
 * dateTimes compare as instants; a complex attribute without sub-attribute compares
 * its "value".
 */
import { containerOf, isJsonObject, own, type AttributePath, type Json, type JsonObject } from './attribute-path.js';
import { comparedDefinition, parseDateTime, type CompareOperator, type Filter, type FilterValue } from './filter.js';
import type { AttributeDefinition } from './schema-definitions.js';

export function matchesFilter(document: JsonObject, filter: Filter): boolean {
  switch (filter.kind) {
    case 'and':
      return matchesFilter(document, filter.left) && matchesFilter(document, filter.right);
    case 'or':
      return matchesFilter(document, filter.left) || matchesFilter(document, filter.right);
    case 'not':
      return !matchesFilter(document, filter.filter);
    case 'present':
      return valuesAt(document, filter.path).some(isPresent);
    case 'valuePath':
      return elementsAt(document, filter.path).some((element) => isJsonObject(element) && matchesFilter(element, filter.filter));
    case 'compare': {
      const target = comparedDefinition(filter.path) as AttributeDefinition;
      const values = comparedValues(document, filter.path).filter(isPresent);
      if (filter.value === null) return filter.op === 'eq' ? values.length === 0 : values.length > 0;
      if (filter.op === 'ne') return !values.some((value) => compare(value, 'eq', filter.value, target));
      return values.some((value) => compare(value, filter.op, filter.value, target));
    }
  }
}

/** The values of the attribute (each element of a multi-valued one), or of its sub-attribute. */
function elementsAt(document: JsonObject, path: AttributePath): Json[] {
  const container = containerOf(document, path);
  if (container === undefined) return [];
  const value = own(container, path.attribute.name);
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

export function valuesAt(document: JsonObject, path: AttributePath): Json[] {
  const elements = elementsAt(document, path);
  if (path.sub === undefined) return elements;
  const sub = path.sub;
  return elements.flatMap((element) => {
    if (!isJsonObject(element)) return [];
    const value = own(element, sub.name);
    if (value === undefined || value === null) return [];
    return Array.isArray(value) ? value : [value];
  });
}

function comparedValues(document: JsonObject, path: AttributePath): Json[] {
  const values = valuesAt(document, path);
  const target = path.sub ?? path.attribute;
  if (target.type !== 'complex') return values;
  return values.flatMap((value) => (isJsonObject(value) && own(value, 'value') !== undefined ? [own(value, 'value') as Json] : []));
}

function isPresent(value: Json): boolean {
  if (value === null) return false;
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isJsonObject(value)) return Object.values(value).some((inner) => inner !== null && inner !== undefined);
  return true;
}

function compare(actual: Json, op: CompareOperator, expected: FilterValue, definition: AttributeDefinition): boolean {
  switch (definition.type) {
    case 'boolean':
      return typeof actual === 'boolean' && actual === expected;
    case 'integer':
    case 'decimal':
      return typeof actual === 'number' && typeof expected === 'number' && ordered(actual - expected, op);
    case 'dateTime': {
      const left = typeof actual === 'string' ? parseDateTime(actual) : undefined;
      const right = typeof expected === 'string' ? parseDateTime(expected) : undefined;
      return left !== undefined && right !== undefined && ordered(left - right, op);
    }
    default: {
      if (typeof actual !== 'string' || typeof expected !== 'string') return false;
      const a = definition.caseExact ? actual : actual.toLowerCase();
      const b = definition.caseExact ? expected : expected.toLowerCase();
      switch (op) {
        case 'co':
          return a.includes(b);
        case 'sw':
          return a.startsWith(b);
        case 'ew':
          return a.endsWith(b);
        default:
          return ordered(a < b ? -1 : a > b ? 1 : 0, op);
      }
    }
  }
}

function ordered(difference: number, op: CompareOperator): boolean {
  switch (op) {
    case 'eq':
      return difference === 0;
    case 'ne':
      return difference !== 0;
    case 'gt':
      return difference > 0;
    case 'ge':
      return difference >= 0;
    case 'lt':
      return difference < 0;
    case 'le':
      return difference <= 0;
    default:
      return false;
  }
}
