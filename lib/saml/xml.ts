/**
 * Safe intake of untrusted XML (SP metadata, AuthnRequests) and the few namespace-aware
 * reads the SAML code needs. Everything that reaches xmldom has first been checked on the
 * raw text, so a hostile document is refused before any parser or canonicaliser sees it.
 */
import { DOMParser } from '@xmldom/xmldom';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { TesseraError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';

export { NS } from './namespaces.js';

export const DEFAULT_MAX_DEPTH = 64;

export interface XmlLimits {
  readonly maxBytes: number;
  readonly maxDepth?: number;
}

// DOM node types (xmldom exposes them only as instance properties).
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const DOCUMENT_TYPE_NODE = 10;

const BOM = '\uFEFF';
// XML 1.0 §2.2 Char: xmldom accepts these silently, so they are refused here.
const NON_XML_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;
const XML_DECLARATION = /^<\?xml[\t\n\r ][^?]*\?>/;

/**
 * Parses untrusted XML or throws TesseraError(errorCode). Refuses: more than maxBytes of
 * UTF-8, any DOCTYPE or ENTITY declaration (XXE, billion laughs), processing instructions
 * other than the XML declaration, anything xmldom merely warns about, content beside the
 * single root, and element nesting deeper than maxDepth.
 * @param subject what the document is, for messages ("metadata contains a DOCTYPE declaration")
 */
export function parseSafeXml(xml: string, limits: XmlLimits, errorCode: ErrorCode, subject = 'XML'): Document {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const refuse = (problem: string): never => {
    throw new TesseraError(errorCode, `${subject} ${problem}`);
  };
  const size = Buffer.byteLength(xml, 'utf8');
  if (size > limits.maxBytes) refuse(`is ${size} bytes, over the limit of ${limits.maxBytes}`);
  const text = xml.startsWith(BOM) ? xml.slice(1) : xml;
  checkRawText(text, maxDepth, refuse);
  const document = parseStrict(text, refuse);
  checkTree(document, maxDepth, refuse);
  return document;
}

/** Refusals decided on the text alone, so no parser ever runs over a hostile DTD. */
function checkRawText(text: string, maxDepth: number, refuse: (message: string) => never): void {
  if (/<!DOCTYPE/i.test(text)) refuse('contains a DOCTYPE declaration');
  if (/<!ENTITY/i.test(text)) refuse('contains an ENTITY declaration');
  if (NON_XML_CHARACTER.test(text)) refuse('contains characters that XML 1.0 does not allow');
  const declaration = XML_DECLARATION.exec(text);
  const rest = declaration ? text.slice(declaration[0].length) : text;
  if (rest.includes('<?')) refuse('contains a processing instruction');
  const depth = rawNestingDepth(rest, maxDepth);
  if (depth > maxDepth) refuse(`nests elements deeper than ${maxDepth} levels`);
}

/**
 * Element depth from the text, stopping as soon as the limit is passed: the DOM check below
 * is authoritative, but this keeps a 100,000-level document from costing seconds to parse.
 * Only exact for well-formed input; anything else fails in the parser anyway.
 */
function rawNestingDepth(text: string, maxDepth: number): number {
  let depth = 0;
  let deepest = 0;
  let position = text.indexOf('<');
  while (position !== -1 && deepest <= maxDepth) {
    if (text.startsWith('<!--', position)) {
      position = skipPast(text, '-->', position);
    } else if (text.startsWith('<![CDATA[', position)) {
      position = skipPast(text, ']]>', position);
    } else if (text.startsWith('</', position)) {
      depth -= 1;
      position = skipPast(text, '>', position);
    } else {
      const end = endOfTag(text, position);
      if (end === -1) break;
      if (text[end - 1] !== '/') {
        depth += 1;
        deepest = Math.max(deepest, depth);
      }
      position = end + 1;
    }
    position = position === -1 ? -1 : text.indexOf('<', position);
  }
  return deepest;
}

function skipPast(text: string, marker: string, from: number): number {
  const found = text.indexOf(marker, from);
  return found === -1 ? -1 : found + marker.length;
}

/** Index of the '>' closing a start tag, skipping quoted attribute values (which may hold '>'). */
function endOfTag(text: string, from: number): number {
  let quote: string | undefined;
  for (let i = from + 1; i < text.length; i += 1) {
    const character = text[i];
    if (quote !== undefined) {
      if (character === quote) quote = undefined;
    } else if (character === '"' || character === "'") {
      quote = character;
    } else if (character === '>') {
      return i;
    }
  }
  return -1;
}

function parseStrict(text: string, refuse: (message: string) => never): Document {
  const problems: string[] = [];
  const parser = new DOMParser({
    locator: false,
    // Warnings included: xmldom "recovers" from many of them, and recovery is where
    // two parsers start to disagree about what a signed document says.
    onError: (level, message) => {
      problems.push(`${level}: ${message}`);
      throw new Error(message);
    },
  });
  try {
    return parser.parseFromString(text, 'text/xml');
  } catch (error) {
    const detail = problems[0] ?? (error instanceof Error ? error.message : String(error));
    return refuse(`is not well-formed XML (${detail.replace(/\s+/g, ' ').slice(0, 200)})`);
  }
}

/** Walks the parsed tree once (iteratively: depth is what is being checked). */
function checkTree(document: Document, maxDepth: number, refuse: (message: string) => never): void {
  let roots = 0;
  for (const child of nodeList(document.childNodes)) {
    if (child.nodeType === ELEMENT_NODE) roots += 1;
    else if (child.nodeType === DOCUMENT_TYPE_NODE) refuse('contains a DOCTYPE declaration');
    else if (child.nodeType === TEXT_NODE && (child.nodeValue ?? '').trim() !== '') refuse('has text outside the root element');
    else if (child.nodeType === CDATA_SECTION_NODE) refuse('has text outside the root element');
    else if (child.nodeType === PROCESSING_INSTRUCTION_NODE && !(child === document.firstChild && child.nodeName === 'xml')) {
      refuse('contains a processing instruction');
    }
  }
  if (roots !== 1) refuse(`must have exactly one root element, found ${roots}`);
  const stack: Array<{ node: Node; depth: number }> = [{ node: document, depth: 0 }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    for (const child of nodeList(entry.node.childNodes)) {
      if (child.nodeType === PROCESSING_INSTRUCTION_NODE && entry.node !== document) refuse('contains a processing instruction');
      if (child.nodeType !== ELEMENT_NODE) continue;
      const depth = entry.depth + 1;
      if (depth > maxDepth) refuse(`nests elements deeper than ${maxDepth} levels`);
      stack.push({ node: child, depth });
    }
  }
}

function nodeList(list: { readonly length: number; item(index: number): Node | null }): Node[] {
  const nodes: Node[] = [];
  for (let i = 0; i < list.length; i += 1) {
    const node = list.item(i);
    if (node !== null) nodes.push(node);
  }
  return nodes;
}

export function isElement(node: Node | null | undefined): node is Element {
  return node !== null && node !== undefined && node.nodeType === ELEMENT_NODE;
}

export function isNamed(element: Element, namespace: string, localName: string): boolean {
  return element.namespaceURI === namespace && element.localName === localName;
}

/** The document's single root element (parseSafeXml guarantees there is one). */
export function rootElement(document: Document): Element {
  const root = document.documentElement;
  if (root === null) throw new TypeError('document has no root element');
  return root;
}

export function childElements(parent: Node): Element[] {
  return nodeList(parent.childNodes).filter(isElement);
}

/** Direct children in the given namespace with the given local name, in document order. */
export function childrenNamed(parent: Node, namespace: string, localName: string): Element[] {
  return childElements(parent).filter((child) => isNamed(child, namespace, localName));
}

/** Every element below (not including) the given node, in document order. */
export function descendantElements(parent: Node): Element[] {
  const found: Element[] = [];
  const pending = childElements(parent).reverse();
  for (let element = pending.pop(); element !== undefined; element = pending.pop()) {
    found.push(element);
    pending.push(...childElements(element).reverse());
  }
  return found;
}

export function descendantsNamed(parent: Node, namespace: string, localName: string): Element[] {
  return descendantElements(parent).filter((element) => isNamed(element, namespace, localName));
}

/** An unqualified attribute's value, or undefined when it is absent (xmldom returns null or ''). */
export function attribute(element: Element, name: string): string | undefined {
  return element.hasAttribute(name) ? (element.getAttribute(name) ?? '') : undefined;
}

/** Text of an element with surrounding whitespace removed (pretty-printed metadata wraps values). */
export function trimmedText(element: Element): string {
  return (element.textContent ?? '').trim();
}

/** xs:boolean as SAML uses it: "true"/"1"/"false"/"0"; undefined for anything else. */
export function parseXsBoolean(value: string): boolean | undefined {
  switch (value.trim()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return undefined;
  }
}
