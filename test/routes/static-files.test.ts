import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundledStaticDir, fallbackPage, findStaticDir } from '../../src/routes/static-files.ts';

test('static folder lookup falls back to the bundled folder; the fallback page lists the API', () => {
  assert.equal(findStaticDir(['does-not-exist'], '/'), bundledStaticDir);
  const page = fallbackPage(['static', '<script>']);
  assert.match(page, /\/health/);
  assert.match(page, /index\.html/);
  assert.doesNotMatch(page, /<script>/);
});
