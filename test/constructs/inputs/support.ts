import { Chart, Testing } from 'cdk8s';
import { Cd4mlValidationError, Problem, validateApp } from '../../../lib';

const charts: Chart[] = [];

/** A fresh chart, as in the other construct tests. */
export const chart = (): Chart => {
  const c = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
  charts.push(c);
  return c;
};

/**
 * The problems of `build` (none when it succeeds): what it throws, or else what the apps of the charts it made report
 * when validated (as `app.synth()` does first). Any other error (a TypeError) fails the test.
 */
export function problemsOf(build: () => unknown): Problem[] {
  charts.length = 0;
  try {
    build();
    for (const c of charts.splice(0)) validateApp(c);
  } catch (e) {
    if (e instanceof Cd4mlValidationError) return [...e.problems];
    throw e;
  }
  return [];
}

/** The values a fix quotes: each is a value the user may write instead. */
export const quoted = (fix: string): string[] => [...fix.matchAll(/"([^"]*)"/g)].map((m) => m[1]);

/**
 * Asserts that `build(bad)` is refused with a problem on `field` (matching `message`), that the problem never shows
 * "undefined" or "[object Object]" as a name, and that every value its fix quotes, fed back through `build`, passes.
 * @param suggestions which quoted values to feed back @default - all of them
 */
export function refused(build: (value: unknown) => unknown, bad: unknown, field: string, message?: RegExp, suggestions?: (fix: string) => string[]): Problem {
  const problems = problemsOf(() => build(bad));
  const p = problems.find((x) => x.field === field);
  expect([field, p === undefined ? problems.map((x) => `${x.field}: ${x.message}`) : 'found']).toEqual([field, 'found']);
  if (message) expect(p!.message).toMatch(message);
  expect(`${p!.message} ${p!.fix}`).not.toMatch(/\[object Object\]/);
  const values = (suggestions ?? quoted)(p!.fix);
  expect(values.length).toBeGreaterThan(0);
  for (const v of values) expect([v, problemsOf(() => build(v)).filter((x) => x.field === field)]).toEqual([v, []]);
  return p!;
}

/** Asserts that `build(value)` raises no problem on `field`. */
export function accepted(build: (value: unknown) => unknown, value: unknown, field: string): void {
  expect([value, problemsOf(() => build(value)).filter((x) => x.field === field)]).toEqual([value, []]);
}
