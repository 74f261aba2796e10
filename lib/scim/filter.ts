/**
 * SCIM filters (RFC 7644 §3.4.2.2): a tokenizer and a recursive-descent parser whose
 * recursion is bounded by MAX_FILTER_DEPTH, so 10,000 nested parentheses cost one
 * error, not a stack overflow. Attribute paths are resolved against the schema while
 * parsing: an unknown attribute, a value of the wrong type or an operator the
 * attribute's type has no meaning for is an invalidFilter error before anything runs.
 * Filters are evaluated in memory over SCIM documents (filter-evaluator.ts); no
 * filter text ever reaches SQL.
 */
import { TesseraError } from '../common/errors.js';
import { resolveAttribute, resolveSubAttribute, type AttributePath } from './attribute-path.js';
import type { AttributeDefinition, ResourceTypeDefinition } from './schema-definitions.js';

export const MAX_FILTER_LENGTH = 2048;
export const MAX_FILTER_DEPTH = 16;
const MAX_TOKENS = 256;

export const COMPARE_OPERATORS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
export type CompareOperator = (typeof COMPARE_OPERATORS)[number];
export type FilterValue = string | number | boolean | null;

export type Filter =
  | { readonly kind: 'compare'; readonly path: AttributePath; readonly op: CompareOperator; readonly value: FilterValue }
  | { readonly kind: 'present'; readonly path: AttributePath }
  | { readonly kind: 'and' | 'or'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'not'; readonly filter: Filter }
  /** `attr[filter]`: some value of the complex attribute satisfies the inner filter (paths relative to it). */
  | { readonly kind: 'valuePath'; readonly path: AttributePath; readonly filter: Filter };

type Token =
  | { readonly type: 'word'; readonly text: string; readonly at: number }
  | { readonly type: 'string'; readonly value: string; readonly at: number }
  | { readonly type: '(' | ')' | '[' | ']'; readonly at: number }
  | { readonly type: 'end'; readonly at: number };

function invalid(message: string): TesseraError {
  return new TesseraError('scim_invalid_filter', message);
}

const WORD = /[A-Za-z0-9:._$+\-]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (tokens.length > MAX_TOKENS) throw invalid(`the filter has more than ${MAX_TOKENS} tokens`);
    const c = text[i] as string;
    if (c === ' ') {
      i += 1;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ type: c, at: i });
      i += 1;
    } else if (c === '"') {
      const end = endOfJsonString(text, i);
      let value: unknown;
      try {
        value = JSON.parse(text.slice(i, end));
      } catch {
        value = undefined;
      }
      if (typeof value !== 'string') throw invalid(`the string starting at ${i} is not a valid JSON string`);
      tokens.push({ type: 'string', value, at: i });
      i = end;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < text.length && WORD.test(text[i] as string)) i += 1;
      tokens.push({ type: 'word', text: text.slice(start, i), at: start });
    } else {
      throw invalid(`unexpected character ${JSON.stringify(c)} at ${i}`);
    }
  }
  tokens.push({ type: 'end', at: text.length });
  return tokens;
}

function endOfJsonString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i + 1;
  }
  throw invalid(`unterminated string starting at ${start}`);
}

class Parser {
  private position = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly resourceType: ResourceTypeDefinition,
  ) {}

  private peek(): Token {
    return this.tokens[this.position] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.position += 1;
    return token;
  }

  private keyword(token: Token, ...words: string[]): boolean {
    return token.type === 'word' && words.includes(token.text.toLowerCase());
  }

  private expect(type: Token['type'], what: string): Token {
    const token = this.next();
    if (token.type !== type) throw invalid(`expected ${what} at ${token.at}`);
    return token;
  }

  atEnd(): boolean {
    return this.peek().type === 'end';
  }

  /** filter := andExpr ("or" andExpr)* */
  parse(depth: number, parent: AttributeDefinition | undefined): Filter {
    let left = this.parseAnd(depth, parent);
    while (this.keyword(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd(depth, parent) };
    }
    return left;
  }

  private parseAnd(depth: number, parent: AttributeDefinition | undefined): Filter {
    let left = this.parseUnary(depth, parent);
    while (this.keyword(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.parseUnary(depth, parent) };
    }
    return left;
  }

  /** unary := "not" "(" filter ")" | "(" filter ")" | attrExp | valuePath */
  private parseUnary(depth: number, parent: AttributeDefinition | undefined): Filter {
    const token = this.peek();
    if (this.keyword(token, 'not')) {
      this.next();
      this.expect('(', '"(" after not');
      const inner = this.nested(depth, parent);
      return { kind: 'not', filter: inner };
    }
    if (token.type === '(') {
      this.next();
      return this.nested(depth, parent);
    }
    if (token.type !== 'word') throw invalid(`expected an attribute at ${token.at}`);
    this.next();
    const path = parent === undefined ? resolveAttribute(this.resourceType, token.text, 'scim_invalid_filter') : resolveSubAttribute(parent, token.text, 'scim_invalid_filter');
    if (this.peek().type === '[') {
      if (parent !== undefined || path.sub !== undefined || path.attribute.type !== 'complex') {
        throw invalid(`"${token.text}" cannot take a value filter: it is not a complex attribute`);
      }
      this.next();
      if (depth + 1 > MAX_FILTER_DEPTH) throw invalid(`the filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
      const inner = this.parse(depth + 1, path.attribute);
      this.expect(']', '"]"');
      return { kind: 'valuePath', path, filter: inner };
    }
    const operator = this.next();
    if (operator.type !== 'word') throw invalid(`expected an operator after "${token.text}"`);
    const op = operator.text.toLowerCase();
    if (op === 'pr') return { kind: 'present', path };
    if (!(COMPARE_OPERATORS as readonly string[]).includes(op)) throw invalid(`"${operator.text}" is not a SCIM comparison operator`);
    const value = this.value();
    return checkComparison(path, op as CompareOperator, value);
  }

  private nested(depth: number, parent: AttributeDefinition | undefined): Filter {
    if (depth + 1 > MAX_FILTER_DEPTH) throw invalid(`the filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
    const inner = this.parse(depth + 1, parent);
    this.expect(')', '")"');
    return inner;
  }

  /** compValue := false / null / true / number / string (RFC 7159): bare words are not values. */
  private value(): FilterValue {
    const token = this.next();
    if (token.type === 'string') return token.value;
    if (token.type === 'word') {
      const text = token.text;
      if (text === 'true') return true;
      if (text === 'false') return false;
      if (text === 'null') return null;
      if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text)) return Number(text);
      throw invalid(`${JSON.stringify(text.slice(0, 100))} is not a value: strings must be quoted`);
    }
    throw invalid(`expected a value at ${token.at}`);
  }

  /** For PATCH paths: `attr[filter]` has been read up to "[": read the filter and "]". */
  valueFilterFor(attribute: AttributeDefinition): Filter {
    const inner = this.parse(1, attribute);
    this.expect(']', '"]"');
    return inner;
  }

  rest(): number {
    return this.peek().at;
  }
}

/** The attribute a comparison looks at: a complex attribute without sub-attribute compares its "value". */
export function comparedDefinition(path: AttributePath): AttributeDefinition | undefined {
  const target = path.sub ?? path.attribute;
  if (target.type !== 'complex') return target;
  return target.subAttributes?.find((sub) => sub.name === 'value');
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function parseDateTime(value: string): number | undefined {
  if (!DATE_TIME.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

function checkComparison(path: AttributePath, op: CompareOperator, value: FilterValue): Filter {
  const target = comparedDefinition(path);
  if (target === undefined) throw invalid(`${path.attribute.name} is complex: compare one of its sub-attributes`);
  const ordering = op === 'gt' || op === 'ge' || op === 'lt' || op === 'le';
  const substring = op === 'co' || op === 'sw' || op === 'ew';
  if (value === null) {
    if (op !== 'eq' && op !== 'ne') throw invalid(`null can only be compared with eq or ne`);
    return { kind: 'compare', path, op, value };
  }
  switch (target.type) {
    case 'boolean':
      if (typeof value !== 'boolean' || ordering || substring) throw invalid(`${target.name} is a boolean: compare it with eq or ne and true or false`);
      break;
    case 'integer':
    case 'decimal':
      if (typeof value !== 'number' || substring) throw invalid(`${target.name} is a number: compare it with a number`);
      break;
    case 'dateTime':
      if (typeof value !== 'string' || parseDateTime(value) === undefined || substring) {
        throw invalid(`${target.name} is a dateTime: compare it with a quoted xsd:dateTime using eq, ne, gt, ge, lt or le`);
      }
      break;
    case 'binary':
      if (typeof value !== 'string' || ordering || substring) throw invalid(`${target.name} is binary: only eq, ne and pr apply`);
      break;
    default:
      if (typeof value !== 'string') throw invalid(`${target.name} is a string: compare it with a quoted string`);
  }
  return { kind: 'compare', path, op, value };
}

/** Parses and resolves a filter for a resource type. @throws TesseraError('scim_invalid_filter') */
export function parseFilter(text: string, resourceType: ResourceTypeDefinition): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw invalid(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (text.trim() === '') throw invalid('the filter is empty');
  const parser = new Parser(tokenize(text), resourceType);
  const filter = parser.parse(0, undefined);
  if (!parser.atEnd()) throw invalid(`unexpected text at ${parser.rest()}`);
  return filter;
}

/** A PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an optional sub-attribute. */
export interface PatchPath {
  readonly path: AttributePath;
  readonly filter: Filter | undefined;
  /** With a filter: the sub-attribute of the matching values the operation targets. */
  readonly subAfterFilter: AttributeDefinition | undefined;
}

/** @throws TesseraError('scim_invalid_path') for anything that is not a valid path of the resource type. */
export function parsePatchPath(text: string, resourceType: ResourceTypeDefinition): PatchPath {
  if (text.length > MAX_FILTER_LENGTH) throw new TesseraError('scim_invalid_path', 'the path is too long');
  const bracket = text.indexOf('[');
  if (bracket === -1) return { path: resolveAttribute(resourceType, text, 'scim_invalid_path'), filter: undefined, subAfterFilter: undefined };
  const path = resolveAttribute(resourceType, text.slice(0, bracket), 'scim_invalid_path');
  if (path.sub !== undefined || path.attribute.type !== 'complex' || !path.attribute.multiValued) {
    throw new TesseraError('scim_invalid_path', `"${text.slice(0, 200)}": only multi-valued complex attributes take a value filter`);
  }
  let filter: Filter;
  let afterAt: number;
  try {
    const parser = new Parser(tokenize(text.slice(bracket + 1)), resourceType);
    filter = parser.valueFilterFor(path.attribute);
    afterAt = parser.rest();
  } catch (error) {
    if (error instanceof TesseraError) throw new TesseraError('scim_invalid_path', `the value filter in "${text.slice(0, 200)}" is invalid: ${error.message}`);
    throw error;
  }
  const tail = text.slice(bracket + 1 + afterAt);
  if (tail === '') return { path, filter, subAfterFilter: undefined };
  if (!tail.startsWith('.')) throw new TesseraError('scim_invalid_path', `unexpected text after the value filter in "${text.slice(0, 200)}"`);
  const sub = resolveSubAttribute(path.attribute, tail.slice(1), 'scim_invalid_path');
  return { path, filter, subAfterFilter: sub.attribute };
}
