import { TesseraError } from '../common/errors.js';
import { escapeAttribute, escapeText } from './xml-escape.js';

/*
 * XML written in its own exclusive-c14n form (Exclusive XML Canonicalization
 * 1.0, without comments), so a signer can digest the bytes it writes instead
 * of parsing them back into a DOM and canonicalising that.
 *
 * What makes the output canonical by construction:
 *   - a namespace is declared exactly where exclusive c14n renders it: on the
 *     first element of the output that visibly uses its prefix (the element's
 *     own prefix or a prefixed attribute), or, for a prefix of the
 *     InclusiveNamespaces PrefixList, on the first element where it is in
 *     scope; and never again below an element that rendered the same binding;
 *   - namespace declarations come first, sorted by prefix, then attributes
 *     sorted by namespace URI (none first) and local name;
 *   - no empty-element tags, no XML declaration, no comments, no whitespace
 *     between elements but what a caller writes as text;
 *   - text and attribute values are escaped by xml-escape.ts, whose rules are
 *     those of c14n except one: NEL, LS and PS are written as character
 *     references (see there why). The canonical bytes are therefore the
 *     written bytes with those three references turned back into characters,
 *     which `canonicalBytes` does.
 * Default namespaces, `xml:` attributes and foreign markup are refused rather
 * than handled: Tessera writes none, and each would need rules of its own.
 */

/** Elements are built as plain objects and rendered once. */
export interface XmlElement {
  readonly kind: 'element';
  /** A prefixed QName: every element Tessera writes is in a namespace. */
  readonly name: string;
  /** Bindings this element brings into scope, by prefix. Rendered where c14n would render them. */
  readonly namespaces: Readonly<Record<string, string>>;
  /** Values are escaped; `undefined` leaves the attribute out. */
  readonly attributes: Readonly<Record<string, string | undefined>>;
  readonly children: readonly XmlChild[];
}

/** Where an enveloped ds:Signature goes once it is computed. At most one per rendering. */
export const SIGNATURE_SLOT: unique symbol = Symbol('ds:Signature slot');

/** A child: an element, text to escape, a fragment rendered earlier, the signature slot, or nothing. */
export type XmlChild = XmlElement | string | CanonicalFragment | OpaqueMarkup | typeof SIGNATURE_SLOT | undefined;

/**
 * Well-formed, self-contained markup produced elsewhere (an EncryptedAssertion
 * from an encryption library, say). It is written as it is; a rendering that
 * contains it is not canonical, and signCanonical refuses it, so its signer
 * must canonicalise the document the slow way.
 */
export class OpaqueMarkup {
  readonly #xml: string;
  constructor(xml: string) {
    this.#xml = xml;
  }
  toString(): string {
    return this.#xml;
  }
}

export function xmlElement(
  name: string,
  attributes: Readonly<Record<string, string | undefined>> = {},
  children: readonly XmlChild[] = [],
  namespaces: Readonly<Record<string, string>> = {},
): XmlElement {
  return { kind: 'element', name, namespaces, attributes, children };
}

/**
 * Rendered XML together with what its canonical form depends on: the
 * namespace bindings it rendered and the PrefixList it was rendered under.
 * It stays canonical when embedded in a parent that renders none of those
 * bindings itself (checked at embedding). The private field keeps the class
 * nominal; instances come from fragmentOf, which only canonical-signature.ts calls.
 */
export class CanonicalFragment {
  readonly #xml: string;
  readonly #bindings: ReadonlyMap<string, string>;
  readonly #inclusive: string;
  #shape: string | undefined;
  constructor(xml: string, bindings: ReadonlyMap<string, string>, inclusive: string) {
    this.#xml = xml;
    this.#bindings = bindings;
    this.#inclusive = inclusive;
  }
  /** The XML as it is sent. */
  toString(): string {
    return this.#xml;
  }
  /** Every namespace binding rendered somewhere inside, as "prefix" → URI. */
  get bindings(): ReadonlyMap<string, string> {
    return this.#bindings;
  }
  /** The InclusiveNamespaces PrefixList (space-separated, sorted) the fragment is canonical under. */
  get inclusivePrefixList(): string {
    return this.#inclusive;
  }
  /**
   * What decides where the fragment may be embedded as it is: its PrefixList and
   * bindings. Fragments of one shape are interchangeable in a template (RenderingTemplate).
   */
  get shape(): string {
    this.#shape ??= `${this.#inclusive}|${[...this.#bindings].map(([prefix, uri]) => `${prefix}=${uri}`).sort().join(' ')}`;
    return this.#shape;
  }
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

// The three characters xml-escape.ts writes as references although c14n writes them raw.
const LINE_SEPARATOR_REFERENCES = /&#x(?:85|2028|2029);/g;
const REFERENCED: Readonly<Record<string, string>> = { '&#x85;': '\u0085', '&#x2028;': '\u2028', '&#x2029;': '\u2029' };

/** The exclusive-c14n bytes of XML this module rendered (or of a slice of it between tags). */
export function canonicalBytes(renderedXml: string): Buffer {
  const canonical = renderedXml.includes('&#x')
    ? renderedXml.replace(LINE_SEPARATOR_REFERENCES, (reference) => REFERENCED[reference] ?? reference)
    : renderedXml;
  return Buffer.from(canonical, 'utf8');
}

export interface RenderContext {
  /** Bindings in scope, declared by this element or an ancestor. */
  readonly scope: ReadonlyMap<string, string>;
  /** Bindings rendered by the nearest output ancestor that rendered each prefix. */
  readonly rendered: ReadonlyMap<string, string>;
}

export interface Rendering {
  /** The whole element; the signature slot, if any, rendered as nothing. */
  readonly xml: string;
  /** The bytes before and after the signature slot (both empty strings' worth when there is none). */
  readonly beforeSlot: string;
  readonly afterSlot: string;
  readonly hasSlot: boolean;
  /** The context the slot sits in, so the signature rendered into it is canonical there too. */
  readonly slotContext: RenderContext | undefined;
  readonly bindings: ReadonlyMap<string, string>;
  /** False when opaque markup was written into it: then `xml` is not its canonical form. */
  readonly canonical: boolean;
}

const EMPTY_CONTEXT: RenderContext = { scope: new Map(), rendered: new Map() };

/**
 * Renders an element as the apex of its canonical form (nothing rendered
 * above it) under an InclusiveNamespaces PrefixList.
 */
export function renderCanonical(root: XmlElement, inclusivePrefixes: readonly string[] = []): Rendering {
  return renderIn(root, EMPTY_CONTEXT, inclusivePrefixes);
}

/** Renders an element inside a context: how the Signature is rendered into its slot. */
export function renderInContext(root: XmlElement, context: RenderContext, inclusivePrefixes: readonly string[]): Rendering {
  return renderIn(root, context, inclusivePrefixes);
}

function renderIn(root: XmlElement, context: RenderContext, inclusivePrefixes: readonly string[]): Rendering {
  const state: RenderState = {
    out: [],
    slotAt: -1,
    slotContext: undefined,
    bindings: new Map(),
    inclusive: new Set(inclusivePrefixes),
    inclusiveList: prefixList(inclusivePrefixes),
    canonical: true,
  };
  renderElement(root, context, state);
  const before = state.slotAt < 0 ? state.out : state.out.slice(0, state.slotAt);
  const after = state.slotAt < 0 ? [] : state.out.slice(state.slotAt);
  const beforeSlot = before.join('');
  const afterSlot = after.join('');
  return {
    xml: beforeSlot + afterSlot,
    beforeSlot,
    afterSlot,
    hasSlot: state.slotAt >= 0,
    slotContext: state.slotContext,
    bindings: state.bindings,
    canonical: state.canonical,
  };
}

/*
 * Templates: the rendering of a shape of element, compiled once and filled per
 * use. Values decide nothing in a rendering but their own escaped text (the
 * element names, namespaces, attribute order and presence decide the rest), so
 * an element built with a placeholder for each value renders, around the
 * placeholders, exactly the bytes it renders around any values; filling the
 * placeholders with escaped values then gives renderCanonical's output without
 * walking the tree again. Each placeholder carries a TAB, which attribute
 * values escape and text does not: how it comes out of the rendering tells
 * which escaping its value needs.
 */
const HOLE_START = '\uE000';
const HOLE_END = '\uE001';
const FRAGMENT_END = '\uE002';
const HOLE = /\uE000(\d+)(?:(\t|&#x9;)\uE001|\uE002)/g;

/** The placeholder for value `index` in an element built for renderTemplate. */
function hole(index: number): string {
  return `${HOLE_START}${index}\t${HOLE_END}`;
}

/** Builds a template's element: `value(i)` stands for value i, `fragment(i, like)` for fragment i, canonical as `like` is. */
export type TemplateBuild = (value: (index: number) => string, fragment: (index: number, like: CanonicalFragment) => CanonicalFragment) => XmlElement;

interface TemplatePart {
  readonly text: string;
  /** The value or fragment written after `text`; -1 after the last part. */
  readonly index: number;
  readonly kind: 'attribute' | 'text' | 'fragment';
}

/**
 * A rendering with placeholders for values and embedded fragments: fill()
 * gives what renderCanonical gives for the element built with those values and
 * fragments.
 */
export class RenderingTemplate {
  readonly #before: readonly TemplatePart[];
  readonly #after: readonly TemplatePart[];
  readonly #rendering: Rendering;
  readonly #values: number;
  readonly #fragmentShapes: readonly string[];

  constructor(rendering: Rendering, values: number, fragmentShapes: readonly string[]) {
    this.#rendering = rendering;
    this.#values = values;
    this.#fragmentShapes = fragmentShapes;
    this.#before = templateParts(rendering.beforeSlot);
    this.#after = templateParts(rendering.afterSlot);
    const parts = [...this.#before, ...this.#after];
    for (let index = 0; index < values; index += 1) {
      if (!parts.some((part) => part.index === index && part.kind !== 'fragment')) throw internal(`template value ${index} is not rendered`);
    }
    for (let index = 0; index < fragmentShapes.length; index += 1) {
      if (parts.filter((part) => part.index === index && part.kind === 'fragment').length !== 1) {
        throw internal(`template fragment ${index} is not rendered exactly once`);
      }
    }
  }

  /** Where the slot sits and what the rendering declares: the same for every fill. */
  get slotContext(): RenderContext | undefined {
    return this.#rendering.slotContext;
  }

  fill(values: readonly string[], fragments: readonly CanonicalFragment[] = []): Rendering {
    if (values.length !== this.#values) throw internal(`a template of ${this.#values} values filled with ${values.length}`);
    if (fragments.length !== this.#fragmentShapes.length) throw internal(`a template of ${this.#fragmentShapes.length} fragments filled with ${fragments.length}`);
    // The placeholder passed embed()'s checks in this place; a fragment of the same shape passes them too.
    fragments.forEach((fragment, index) => {
      if (fragment.shape !== this.#fragmentShapes[index]) throw internal(`fragment ${index} is not canonical where the template embeds it`);
    });
    const beforeSlot = fillParts(this.#before, values, fragments);
    const afterSlot = fillParts(this.#after, values, fragments);
    const { hasSlot, slotContext, bindings, canonical } = this.#rendering;
    return { xml: beforeSlot + afterSlot, beforeSlot, afterSlot, hasSlot, slotContext, bindings, canonical };
  }
}

/**
 * Compiles the rendering of `build(placeholders)` as an apex, or in `context`
 * (a signature's slot). `build` must give the same shape whatever the values:
 * an attribute left out or a child added for some value belongs in the key
 * its caller caches templates by, not in a value. Each fragment it embeds is
 * given by an example (`like`): later fills take fragments of the same shape.
 */
export function renderTemplate(
  build: TemplateBuild,
  values: number,
  inclusivePrefixes: readonly string[],
  context: RenderContext = EMPTY_CONTEXT,
): RenderingTemplate {
  const shapes: string[] = [];
  const fragment = (index: number, like: CanonicalFragment): CanonicalFragment => {
    if (index !== shapes.length) throw internal('template fragments are numbered in the order they are built');
    shapes.push(like.shape);
    return new CanonicalFragment(`${HOLE_START}${index}${FRAGMENT_END}`, like.bindings, like.inclusivePrefixList);
  };
  return new RenderingTemplate(renderIn(build(hole, fragment), context, inclusivePrefixes), values, shapes);
}

function templateParts(rendered: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of rendered.matchAll(HOLE)) {
    const kind = match[2] === undefined ? 'fragment' : match[2] === '\t' ? 'text' : 'attribute';
    parts.push({ text: rendered.slice(last, match.index), index: Number(match[1]), kind });
    last = match.index + match[0].length;
  }
  parts.push({ text: rendered.slice(last), index: -1, kind: 'text' });
  if (parts.some((part) => /[\uE000-\uE002]/.test(part.text))) throw internal('a template placeholder was rendered in part');
  return parts;
}

function fillParts(parts: readonly TemplatePart[], values: readonly string[], fragments: readonly CanonicalFragment[]): string {
  let out = '';
  for (const part of parts) {
    out += part.text;
    if (part.index < 0) break;
    if (part.kind === 'fragment') out += fragments[part.index]!.toString();
    else {
      const value = values[part.index]!;
      out += part.kind === 'attribute' ? attributeValue(value) : textValue(value);
    }
  }
  return out;
}

/**
 * Wraps a rendering of this module, its signature rendered into its slot, as a
 * fragment a parent may embed. For canonical-signature.ts: anything else would
 * make the fragment's claim to be canonical a lie.
 */
export function fragmentOf(xml: string, bindings: ReadonlyMap<string, string>, inclusivePrefixes: readonly string[]): CanonicalFragment {
  return new CanonicalFragment(xml, bindings, prefixList(inclusivePrefixes));
}

interface RenderState {
  readonly out: string[];
  slotAt: number;
  slotContext: RenderContext | undefined;
  readonly bindings: Map<string, string>;
  readonly inclusive: ReadonlySet<string>;
  readonly inclusiveList: string;
  canonical: boolean;
}

function prefixList(prefixes: readonly string[]): string {
  return [...new Set(prefixes)].sort().join(' ');
}

function renderElement(element: XmlElement, parent: RenderContext, state: RenderState): void {
  const elementPrefix = qname(element.name, false).prefix;
  let scope = parent.scope;
  for (const prefix in element.namespaces) {
    const uri = element.namespaces[prefix]!;
    assertNcName(prefix, 'namespace prefix');
    if (prefix === 'xml' || prefix === 'xmlns') throw internal(`the ${prefix} prefix cannot be declared`);
    if (uri === '') throw internal(`prefix ${prefix} cannot be undeclared`);
    if (scope === parent.scope) scope = new Map(scope);
    (scope as Map<string, string>).set(prefix, uri);
  }

  // Visibly utilised prefixes, then the PrefixList ones in scope.
  const needed: string[] = [elementPrefix];
  const attributes: RenderedAttribute[] = [];
  for (const name in element.attributes) {
    const value = element.attributes[name];
    if (value === undefined) continue;
    const { prefix, local } = qname(name, true);
    if (prefix === 'xml' || prefix === 'xmlns') throw internal(`attribute ${name} is not supported`);
    if (prefix !== '' && !needed.includes(prefix)) needed.push(prefix);
    attributes.push({ name, uri: prefix === '' ? '' : resolve(scope, prefix, name), local, value });
  }
  for (const prefix of state.inclusive) if (scope.has(prefix) && !needed.includes(prefix)) needed.push(prefix);

  let rendered = parent.rendered;
  let tag = `<${element.name}`;
  const toRender = needed.filter((prefix) => rendered.get(prefix) !== resolve(scope, prefix, element.name));
  if (toRender.length > 0) {
    toRender.sort(compareStrings);
    const extended = new Map(rendered);
    for (const prefix of toRender) {
      const uri = scope.get(prefix)!;
      extended.set(prefix, uri);
      state.bindings.set(prefix, uri);
      tag += ` xmlns:${prefix}="${attributeValue(uri)}"`;
    }
    rendered = extended;
  }
  if (attributes.length > 1) attributes.sort((a, b) => compareStrings(a.uri, b.uri) || compareStrings(a.local, b.local));
  for (const attribute of attributes) tag += ` ${attribute.name}="${attributeValue(attribute.value)}"`;
  state.out.push(tag + '>');

  const context: RenderContext = scope === parent.scope && rendered === parent.rendered ? parent : { scope, rendered };
  for (const child of element.children) {
    if (child === undefined) continue;
    if (typeof child === 'string') state.out.push(textValue(child));
    else if (child === SIGNATURE_SLOT) {
      if (state.slotAt >= 0) throw internal('a rendering has at most one signature slot');
      state.slotAt = state.out.length;
      state.slotContext = context;
    } else if (child instanceof CanonicalFragment) state.out.push(embed(child, context, state));
    else if (child instanceof OpaqueMarkup) {
      state.canonical = false;
      state.out.push(child.toString());
    } else renderElement(child, context, state);
  }
  state.out.push(`</${element.name}>`);
}

/**
 * A fragment rendered as an apex stays canonical inside this parent only if
 * the parent renders none of the bindings the fragment renders (c14n would
 * then leave them out inside) and both use the same PrefixList.
 */
function embed(fragment: CanonicalFragment, context: RenderContext, state: RenderState): string {
  if (fragment.inclusivePrefixList !== state.inclusiveList) {
    throw internal(`a fragment canonical under PrefixList "${fragment.inclusivePrefixList}" embedded under "${state.inclusiveList}"`);
  }
  for (const [prefix, uri] of fragment.bindings) {
    if (context.rendered.get(prefix) === uri) throw internal(`an embedded fragment re-declares ${prefix} rendered above it`);
    state.bindings.set(prefix, uri);
  }
  for (const prefix of state.inclusive) {
    if (context.scope.has(prefix) && !fragment.bindings.has(prefix)) {
      throw internal(`PrefixList prefix ${prefix} is in scope above an embedded fragment that does not render it`);
    }
  }
  return fragment.toString();
}

function resolve(scope: ReadonlyMap<string, string>, prefix: string, where: string): string {
  const uri = scope.get(prefix);
  if (uri === undefined) throw internal(`prefix ${prefix} of ${where} is not declared`);
  return uri;
}

interface QName {
  readonly prefix: string;
  readonly local: string;
}

interface RenderedAttribute {
  readonly name: string;
  readonly uri: string;
  readonly local: string;
  readonly value: string;
}

// Names are the builders' constants: parsed and checked once each.
const QNAMES = new Map<string, QName>();
const QNAME_CACHE_LIMIT = 512;

function qname(name: string, allowUnprefixed: boolean): QName {
  const cached = QNAMES.get(name);
  const parsed = cached ?? parseQName(name);
  if (parsed.prefix === '' && !allowUnprefixed) throw internal(`element ${name} must be prefixed`);
  if (cached === undefined && QNAMES.size < QNAME_CACHE_LIMIT) QNAMES.set(name, parsed);
  return parsed;
}

function parseQName(name: string): QName {
  const colon = name.indexOf(':');
  if (colon < 0) {
    assertNcName(name, 'name');
    return { prefix: '', local: name };
  }
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  assertNcName(prefix, 'prefix');
  assertNcName(local, 'local name');
  return { prefix, local };
}

// Printable ASCII without & < > ": what most values are, and what every escaping rule leaves alone.
const PLAIN = /^[ !#-%'-;=?-~]*$/;

function textValue(value: string): string {
  return PLAIN.test(value) ? value : escapeText(value);
}

function attributeValue(value: string): string {
  return PLAIN.test(value) ? value : escapeAttribute(value);
}

function assertNcName(value: string, what: string): void {
  if (!NCNAME.test(value)) throw internal(`not an XML ${what}: ${JSON.stringify(value)}`);
}

// c14n orders by code point; our names and URIs are ASCII, where UTF-16 order is the same.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function internal(message: string): TesseraError {
  return new TesseraError('internal', `canonical XML: ${message}`);
}
