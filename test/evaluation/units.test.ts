import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../src/errors.ts';
import { parseLanguagePair } from '../../src/evaluation/language.ts';
import { joinUnits, newUnitsFromCumulative, splitUnits } from '../../src/evaluation/units.ts';

test('Chinese targets count characters, other targets count words', () => {
  assert.equal(parseLanguagePair('English -> Chinese').unitKind, 'char');
  assert.equal(parseLanguagePair('English -> zh').unitKind, 'char');
  assert.equal(parseLanguagePair('English -> German').unitKind, 'word');
  assert.equal(parseLanguagePair('English -> Italian').targetCode, 'it');
  // The unit follows the target: a Chinese *source* does not make the output characters.
  assert.equal(parseLanguagePair('Chinese -> English').unitKind, 'word');
});

test('character units are every non-whitespace code point, punctuation and Latin letters included', () => {
  assert.deepEqual(splitUnits('你好，世界', 'char'), ['你', '好', '，', '世', '界']);
  assert.deepEqual(splitUnits('我用 AI 3.5', 'char'), ['我', '用', 'A', 'I', '3', '.', '5']);
  // A character outside the BMP is one unit, not two UTF-16 halves.
  assert.deepEqual(splitUnits('𠀀字', 'char'), ['𠀀', '字']);
  assert.equal(joinUnits(['你', '好'], 'char'), '你好');
});

test('word units split on whitespace and keep punctuation attached, as SimulEval does', () => {
  assert.deepEqual(splitUnits('  Guten Tag,  Welt! ', 'word'), ['Guten', 'Tag,', 'Welt!']);
  assert.deepEqual(splitUnits("l'ascolto\u3000e\u0085poi", 'word'), ["l'ascolto", 'e', 'poi']);
  assert.equal(joinUnits(['Guten', 'Tag,'], 'word'), 'Guten Tag,');
});

test('the same cumulative text yields different unit counts for Chinese and space-joined targets', () => {
  const chinese = newUnitsFromCumulative('你好', '你好世界', 'char');
  assert.deepEqual(chinese, ['世', '界']);
  const german = newUnitsFromCumulative('Hallo', 'Hallo schöne Welt', 'word');
  assert.deepEqual(german, ['schöne', 'Welt']);
});

test('a cumulative frame that revises or extends emitted text is refused', () => {
  const refused = (fn: () => unknown) =>
    assert.throws(fn, (error: unknown) => isAppError(error) && error.code === 'internal' && /revised/.test(error.message));
  refused(() => newUnitsFromCumulative('Hallo Welt', 'Hallo Leute', 'word'));
  refused(() => newUnitsFromCumulative('你好', '您好世界', 'char'));
  // "Hall" + "o" would turn the emitted word "Hall" into "Hallo": a silent revision.
  refused(() => newUnitsFromCumulative('Hall', 'Hallo', 'word'));
  // Chinese has no word boundary to break: appending characters is fine.
  assert.deepEqual(newUnitsFromCumulative('你', '你好', 'char'), ['好']);
  assert.deepEqual(newUnitsFromCumulative('Hallo', 'Hallo', 'word'), []);
});
