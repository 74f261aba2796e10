/**
 * Query parameters of a list or search (RFC 7644 §3.4.2): filter, sortBy/sortOrder,
 * startIndex/count, attributes/excludedAttributes; and running them over documents.
 */
import { TesseraError } from '../common/errors.js';
import { isJsonObject, own, resolveAttribute, type AttributePath, type Json, type JsonObject } from './attribute-path.js';
import { parseDateTime, parseFilter, type Filter } from './filter.js';
import { matchesFilter, valuesAt } from './filter-evaluator.js';
import { parseProjection, project, type Projection } from './projection.js';
import type { ResourceTypeDefinition } from './schema-definitions.js';
import { SCIM_SCHEMAS } from './schemas.js';

/** The most resources one page carries (ServiceProviderConfig filter.maxResults). */
export const MAX_RESULTS = 200;

export interface ListQuery {
  readonly filter: Filter | undefined;
  readonly sortBy: AttributePath | undefined;
  readonly descending: boolean;
  readonly startIndex: number;
  readonly count: number;
  readonly projection: Projection;
}

export type QuerySource = Readonly<Record<string, unknown>>;

function invalid(message: string): TesseraError {
  return new TesseraError('invalid_value', message);
}

/** One value per parameter, names matched case-insensitively (RFC 7644 §3.4.2 examples mix cases). */
function parameter(source: QuerySource, name: string, listAllowed = false): unknown {
  const lower = name.toLowerCase();
  const keys = Object.keys(source).filter((key) => key.toLowerCase() === lower);
  if (keys.length > 1) throw invalid(`${name} is given more than once`);
  const value = keys.length === 1 ? source[keys[0] as string] : undefined;
  // A repeated query parameter arrives as an array; a SearchRequest's attributes are one.
  if (Array.isArray(value) && !(listAllowed && value.every((item) => typeof item === 'string'))) throw invalid(`${name} is given more than once`);
  return value;
}

function text(source: QuerySource, name: string): string | undefined {
  const value = parameter(source, name);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  return value;
}

/** startIndex/count arrive as strings in a query and as numbers in a SearchRequest. */
function integer(source: QuerySource, name: string): number | undefined {
  const value = parameter(source, name);
  if (value === undefined || value === '') return undefined;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number)) throw invalid(`${name} must be an integer`);
  return number;
}

export function parseListQuery(source: QuerySource, resourceType: ResourceTypeDefinition): ListQuery {
  const filterText = text(source, 'filter');
  const sortByText = text(source, 'sortBy');
  const sortOrder = text(source, 'sortOrder');
  if (sortOrder !== undefined && !/^(ascending|descending)$/i.test(sortOrder)) throw invalid('sortOrder must be ascending or descending');
  const attributes = parameter(source, 'attributes', true);
  const excluded = parameter(source, 'excludedAttributes', true);
  // RFC 7644 §3.4.2.4: startIndex below 1 is read as 1, a negative count as 0.
  const startIndex = Math.max(1, integer(source, 'startIndex') ?? 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, integer(source, 'count') ?? MAX_RESULTS));
  return {
    filter: filterText === undefined ? undefined : parseFilter(filterText, resourceType),
    sortBy: sortByText === undefined ? undefined : resolveAttribute(resourceType, sortByText, 'invalid_value'),
    descending: sortOrder !== undefined && sortOrder.toLowerCase() === 'descending',
    startIndex,
    count,
    projection: parseProjection(listText(attributes, 'attributes'), listText(excluded, 'excludedAttributes'), resourceType),
  };
}

/** Query strings carry "a,b"; a SearchRequest carries ["a","b"]. */
function listText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  throw invalid(`${name} must be a list of attribute names`);
}

export interface ListResponse {
  readonly schemas: readonly string[];
  readonly totalResults: number;
  readonly startIndex: number;
  readonly itemsPerPage: number;
  readonly Resources: readonly JsonObject[];
}

export function runListQuery(documents: readonly JsonObject[], query: ListQuery): ListResponse {
  const matching = query.filter === undefined ? [...documents] : documents.filter((document) => matchesFilter(document, query.filter as Filter));
  if (query.sortBy !== undefined) {
    const path = query.sortBy;
    const keyed = matching.map((document) => ({ document, key: sortKey(document, path) }));
    keyed.sort((a, b) => compareKeys(a.key, b.key, query.descending));
    matching.splice(0, matching.length, ...keyed.map((entry) => entry.document));
  }
  return listPage(matching.length, query, matching.slice(query.startIndex - 1, query.startIndex - 1 + query.count));
}

/** A ListResponse of one page already cut (`page` holds the resources from startIndex on). */
export function listPage(totalResults: number, query: ListQuery, page: readonly JsonObject[]): ListResponse {
  return {
    schemas: [SCIM_SCHEMAS.listResponse],
    totalResults,
    startIndex: query.startIndex,
    itemsPerPage: page.length,
    Resources: page.map((document) => project(document, query.projection)),
  };
}

/**
 * runListQuery over documents that arrive in batches (a scan of the directory):
 * without sortBy only the requested page is kept, so memory stays bounded by the
 * page whatever the directory's size; with sortBy every match (only) is kept to be sorted.
 * Yields to the event loop between batches, so a long scan does not hold up sign-ons.
 */
export async function collectListQuery(batches: AsyncIterable<readonly JsonObject[]>, query: ListQuery): Promise<ListResponse> {
  if (query.sortBy !== undefined) {
    const matching: JsonObject[] = [];
    for await (const batch of batches) {
      for (const document of batch) if (query.filter === undefined || matchesFilter(document, query.filter)) matching.push(document);
      await yieldToEventLoop();
    }
    return runListQuery(matching, { ...query, filter: undefined });
  }
  const first = query.startIndex - 1;
  const page: JsonObject[] = [];
  let matched = 0;
  for await (const batch of batches) {
    for (const document of batch) {
      if (query.filter !== undefined && !matchesFilter(document, query.filter)) continue;
      if (matched >= first && page.length < query.count) page.push(document);
      matched += 1;
    }
    await yieldToEventLoop();
  }
  return listPage(matched, query, page);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type SortKey = string | number | boolean | undefined;

/** Multi-valued attributes sort by their primary value, else their first (RFC 7644 §3.4.2.3). */
function sortKey(document: JsonObject, path: AttributePath): SortKey {
  let values: Json[] = valuesAt(document, path);
  if (path.sub === undefined && path.attribute.type === 'complex') {
    const primary = values.find((v) => isJsonObject(v) && own(v, 'primary') === true);
    values = (primary ? [primary] : values).map((v) => (isJsonObject(v) ? (own(v, 'value') ?? null) : v));
  }
  const value = values.find((v) => v !== null);
  const definition = path.sub ?? path.attribute;
  if (typeof value === 'string') {
    if (definition.type === 'dateTime') return parseDateTime(value);
    return definition.caseExact ? value : value.toLowerCase();
  }
  return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}

/** Unassigned values sort last in either order. */
function compareKeys(a: SortKey, b: SortKey, descending: boolean): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  const order = a < b ? -1 : a > b ? 1 : 0;
  return descending ? -order : order;
}

export { project };
