import { TesseraError } from '../common/errors.js';

/*
 * Escaping for the XML Tessera writes as strings.
 *
 * The rules are those of Canonical XML's serialisation (C14N 1.0 §2.3, which
 * exclusive c14n shares), not merely the minimum XML needs:
 *   text:       & < > and CR
 *   attributes: & < " and TAB, LF, CR
 * Two reasons. A value written this way reads back unchanged: XML parsers turn
 * a raw CR into LF, and a raw TAB or LF in an attribute into a space, so the
 * SP would read (and digest) another value than the one we meant. And the
 * bytes we emit for a value are the bytes the canonicaliser emits for it
 * (but for the addition below), so a signer that hashes our string directly
 * can replace the DOM-based one without changing a digest.
 *
 * One deliberate addition: NEL (U+0085), LINE SEPARATOR (U+2028) and
 * PARAGRAPH SEPARATOR (U+2029) become character references. XML 1.0 leaves
 * them alone, but xmldom (used by xml-crypto, node-saml and samlify) treats
 * them as line ends when they are written raw (0.8 the first two, 0.9 all
 * three), turning them into LF, or a space in attributes: the SP would read
 * another value than we signed, or fail the digest. As references they reach
 * every parser intact.
 */

// XML 1.0 §2.2 Char, as code points (the u flag makes lone surrogates fail too).
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const LINE_SEPARATORS = /[\u0085\u2028\u2029]/g;
const TEXT_SPECIALS = /[&<>\r\u0085\u2028\u2029]/g;
const ATTRIBUTE_SPECIALS = /[&<"\t\n\r\u0085\u2028\u2029]/g;

const REPLACEMENTS: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
  '\u0085': '&#x85;',
  '\u2028': '&#x2028;',
  '\u2029': '&#x2029;',
};

const replace = (character: string): string => REPLACEMENTS[character] ?? character;

/** True when every character of the value can be carried by an XML 1.0 document at all. */
export function isXmlSafe(value: string): boolean {
  return !NOT_XML_CHAR.test(value);
}

/**
 * Control characters (other than TAB, LF, CR), lone surrogates, U+FFFE and
 * U+FFFF cannot appear in XML 1.0 even as character references: refuse them
 * rather than emit a document no SP can parse.
 */
function assertXmlSafe(value: string): void {
  if (!isXmlSafe(value)) {
    throw new TesseraError('invalid_value', 'a value contains a character XML cannot carry', {
      internalDetail: `rejected value of length ${value.length} with a character outside XML 1.0 Char`,
    });
  }
}

/** Escapes character data (element content). */
export function escapeText(value: string): string {
  assertXmlSafe(value);
  return value.replace(TEXT_SPECIALS, replace);
}

/** Escapes an attribute value for use between double quotes. */
export function escapeAttribute(value: string): string {
  assertXmlSafe(value);
  return value.replace(ATTRIBUTE_SPECIALS, replace);
}

/**
 * Re-escapes NEL, LS and PS in a serialised document. Serialisers (xmldom's
 * included) write them raw, which would undo the protection above once a
 * signer has parsed and re-serialised our string. Only for documents without
 * comments, processing instructions or CDATA sections, where a reference
 * would not be read as one: the documents we build have none.
 */
export function escapeLineSeparators(xml: string): string {
  return xml.replace(LINE_SEPARATORS, replace);
}
