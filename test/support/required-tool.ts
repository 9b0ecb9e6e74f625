/**
 * Tests that need a system tool skip with a reason when it is missing on a developer's machine,
 * and the test summary lists every skip with its reason (scripts/skip-summary-reporter.mjs). Under
 * `CI=true`, where `.ci/run` installs every tool, a missing tool is a failing test instead: a CI
 * run can never pass by skipping what it was meant to check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

/** The skip option for tests that need `tool`: false when it is there, else the reason. */
export function skipWithout(tool: string, problem: string | false | undefined): string | false {
  if (!problem) return false;
  const reason = `${tool}: ${problem}`;
  if (process.env.CI === 'true') {
    test(`${tool} is available (.ci/run installs it; CI=true makes its absence a failure)`, () => assert.fail(reason));
  }
  return reason;
}
