import { holdsCredential, REDACTED } from './credentials';

/**
 * One thing wrong with the input of a construct: where, which field, what value, and how to fix it.
 */
export interface Problem {
  /** The construct path (or another locator) the problem belongs to, e.g. `sandbox/platform/minio`. */
  readonly path: string;
  /** The prop or field that holds the bad value, e.g. `buckets[1].name`. */
  readonly field: string;
  /**
   * The bad value, rendered as given (undefined when the value is missing); `(redacted)` for anything that may hold a
   * credential (every problem is screened: see {@link redactProblem}).
   */
  readonly value?: unknown;
  /** What is wrong, in a few words. */
  readonly message: string;
  /** How to fix it. */
  readonly fix: string;
}

function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The problem with its value replaced by `(redacted)` when the value (or a string inside it) looks like a credential. */
export function redactProblem(p: Problem): Problem {
  return p.value !== REDACTED && holdsCredential(p.value) ? { ...p, value: REDACTED } : p;
}

/** Renders one problem as a single line: `path: field = value: message. Fix: fix`. */
export function formatProblem(problem: Problem): string {
  const p = redactProblem(problem);
  return `${p.path}: ${p.field} = ${show(p.value)}: ${p.message}. Fix: ${p.fix}`;
}

/**
 * Thrown when input is invalid. Carries every problem found together, so one synth run reports them all.
 */
export class Cd4mlValidationError extends Error {
  public readonly problems: readonly Problem[];

  public constructor(problems: readonly Problem[]) {
    const safe = problems.map(redactProblem);
    const lines = safe.map((p) => `  - ${formatProblem(p)}`);
    super(`cd4ml: ${problems.length} invalid input${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`);
    this.name = 'Cd4mlValidationError';
    this.problems = safe;
  }
}

/**
 * Collects problems and throws them together. Use one per validation pass.
 */
export class Problems {
  private readonly items: Problem[] = [];

  /** Records a problem. */
  public add(problem: Problem): void {
    this.items.push(redactProblem(problem));
  }

  /** Records a problem if `problem` is defined (validators return undefined when the value is fine). */
  public addIf(problem: Problem | undefined): void {
    if (problem) this.items.push(redactProblem(problem));
  }

  /** Throws a {@link Cd4mlValidationError} when any problem was recorded. */
  public throwIfAny(): void {
    if (this.items.length > 0) throw new Cd4mlValidationError(this.items);
  }
}

/** Throws at once for a single problem. */
export function fail(problem: Problem): never {
  throw new Cd4mlValidationError([problem]);
}
