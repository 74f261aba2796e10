import { strict as assert } from 'node:assert';
import { randomInt } from 'node:crypto';
import { utf8Base64 } from '../lib/common/base64.js';

/** Random text drawn from ASCII markup, Latin-1, the BMP, astral characters and lone surrogates. */
function randomText(length: number): string {
  const pieces = ['<', '>', '&', '"', '\n', '\r', 'a', 'Z', '0', 'é', 'ß', '中', '\u2028', '\uFEFF', '😀', '\uD800', '\uDFFF', '\u0000'];
  let text = '';
  while (text.length < length) text += randomInt(4) === 0 ? pieces[randomInt(pieces.length)] : String.fromCharCode(0x20 + randomInt(95));
  return text;
}

describe('utf8Base64: the base64 of a string’s UTF-8', function () {
  it('is what Buffer.from(text).toString("base64") gives, over random text of every size up to past its buffer', function () {
    const lengths = [0, 1, 2, 3, 4_095, 4_096, 8_200, 87_381, 87_382, 200_000];
    for (let i = 0; i < 200; i++) lengths.push(randomInt(20_000));
    for (const length of lengths) {
      const text = randomText(length);
      assert.equal(utf8Base64(text), Buffer.from(text, 'utf8').toString('base64'), `differs at length ${length}`);
    }
  });

  it('leaves nothing of a longer text in a shorter one’s encoding', function () {
    utf8Base64('x'.repeat(10_000));
    assert.equal(utf8Base64('ab'), Buffer.from('ab').toString('base64'));
  });
});
