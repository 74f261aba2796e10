import { TesseraError } from '../common/errors.js';
import { escapeAttribute, escapeText } from './xml-escape.js';

/*
 * The only way Tessera writes XML: values go in as strings and are escaped on
 * the way, so no template can paste an unescaped value. Names are our own
 * constants, checked anyway so a mistake fails loudly instead of producing
 * a document an attacker could shape.
 */

// A QName of the ASCII subset we use: optional prefix, local name.
const QNAME = /^(?:[A-Za-z_][A-Za-z0-9._-]*:)?[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * Well-formed XML produced here. The private field makes the type nominal, and
 * the class itself is not exported, so only this module can create one.
 */
class Markup {
  readonly #xml: string;
  constructor(xml: string) {
    this.#xml = xml;
  }
  toString(): string {
    return this.#xml;
  }
}
export type { Markup };

/** Attribute values; `undefined` leaves the attribute out. */
export type Attributes = Readonly<Record<string, string | undefined>>;

/** A child is an element we built or text to escape; `undefined` leaves it out. */
export type Child = Markup | string | undefined;

// xs:ID is an NCName; ours are generated, so a bad one is a bug, not input.
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/** Checks a value meant for an ID attribute, which signature references point at. */
export function assertId(value: string): string {
  if (!NCNAME.test(value)) {
    throw new TesseraError('internal', 'an XML ID is not an NCName', { internalDetail: `rejected ID ${JSON.stringify(value)}` });
  }
  return value;
}

function assertName(name: string): void {
  if (!QNAME.test(name)) throw new TesseraError('internal', `not an XML name: ${name}`);
}

function renderAttributes(attributes: Attributes): string {
  let rendered = '';
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    assertName(name);
    rendered += ` ${name}="${escapeAttribute(value)}"`;
  }
  return rendered;
}

function renderChild(child: Markup | string): string {
  return child instanceof Markup ? child.toString() : escapeText(child);
}

export function element(name: string, attributes: Attributes = {}, children: readonly Child[] = []): Markup {
  assertName(name);
  const content = children.filter((child): child is Markup | string => child !== undefined).map(renderChild).join('');
  const start = `<${name}${renderAttributes(attributes)}`;
  return new Markup(content === '' ? `${start}/>` : `${start}>${content}</${name}>`);
}
