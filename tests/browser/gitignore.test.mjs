// The context builder's .gitignore matcher (assets/context/gitignore.js) against git's rules,
// run in Node (the module has no browser dependency).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, parse } from '../../assets/context/gitignore.js';

const check = (rules, cases) => {
  for (const [path, isDir, want] of cases) assert.equal(decide(rules, path, isDir) === true, want, `${path}${isDir ? '/' : ''}`);
};

test('unanchored names match at any depth; a leading or middle slash anchors', () => {
  check([parse('*.log\n/root-only.txt\ndocs/*.md\n')], [
    ['a.log', false, true],
    ['deep/er/b.log', false, true],
    ['root-only.txt', false, true],
    ['sub/root-only.txt', false, false],
    ['docs/x.md', false, true],
    ['docs/sub/x.md', false, false],
    ['other/docs/x.md', false, false],
  ]);
});

test('negation re-includes; the last matching rule wins', () => {
  check([parse('*.log\n!keep.log\n')], [
    ['a.log', false, true],
    ['keep.log', false, false],
    ['sub/keep.log', false, false],
  ]);
  check([parse('!keep.log\n*.log\n')], [['keep.log', false, true]]);
});

test('a trailing slash matches directories only', () => {
  check([parse('build/\n')], [
    ['build', true, true],
    ['build', false, false],
    ['src/build', true, true],
  ]);
});

test('double stars, character classes, question marks and escapes', () => {
  check([parse('**/tmp\nlogs/**\na/**/z\nfile[0-9].txt\n?.c\n\\#hash\n\\!bang\n')], [
    ['tmp', true, true],
    ['x/y/tmp', true, true],
    ['logs/one/two.txt', false, true],
    ['a/z', false, true],
    ['a/b/c/z', false, true],
    ['file7.txt', false, true],
    ['filex.txt', false, false],
    ['x.c', false, true],
    ['xy.c', false, false],
    ['#hash', false, true],
    ['!bang', false, true],
  ]);
});

test('a nested file applies below its directory and beats the root', () => {
  const root = parse('*.gen\n');
  const nested = parse('!kept.gen\nlocal.txt\n', 'src');
  check([root, nested], [
    ['src/kept.gen', false, false],
    ['src/other.gen', false, true],
    ['src/local.txt', false, true],
    ['local.txt', false, false],
    ['kept.gen', false, true],
  ]);
});

test('comments, blank lines and trailing spaces are ignored', () => {
  const rules = parse('# comment\n\n   \nname.txt   \n');
  assert.equal(rules.length, 1);
  check([rules], [['name.txt', false, true]]);
});
