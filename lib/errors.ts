import { IConstruct, Node } from 'constructs';
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
  // JSON would print null for these: show what was given
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') return `(${typeof value})`;
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

  /** The problems recorded so far. */
  public get list(): readonly Problem[] {
    return [...this.items];
  }

  /**
   * Throws a {@link Cd4mlValidationError} when any problem was recorded; given the construct that checks, the error
   * also carries every problem deferred earlier in its app (see {@link Problems.deferIfAny}), so it is the synth's one
   * report.
   */
  public throwIfAny(scope?: IConstruct): void {
    if (this.items.length > 0) throw new Cd4mlValidationError(scope ? [...reportOf(scope).deferred, ...this.items] : this.items);
  }

  /**
   * Defers the recorded problems to the app's one report, raised when the app is validated (`app.synth()`, before
   * anything is written) or by the next problem thrown in the app. The caller goes on building from input it has made
   * safe (for example, defaults in place of the fields named in {@link Problems.list}), so that the constructs
   * declared after it are checked too.
   * @returns whether there was anything to defer
   */
  public deferIfAny(scope: IConstruct): boolean {
    if (this.items.length === 0) return false;
    reportOf(scope).deferred.push(...this.items);
    return true;
  }
}

/**
 * The checks of one app, run together when it is validated: problems deferred while building, then checks of the
 * constructs (a pipeline's graph), and only when those found nothing, checks that render the output (which could
 * trip over values already reported).
 */
interface SynthReport {
  readonly deferred: Problem[];
  readonly checks: Array<() => readonly Problem[]>;
  readonly renderedChecks: Array<() => readonly Problem[]>;
}

const REPORT = Symbol.for('cd4ml.synthReport');

function reportOf(scope: IConstruct): SynthReport {
  const root = Node.of(scope).root as IConstruct & { [REPORT]?: SynthReport };
  let report = root[REPORT];
  if (!report) {
    report = { deferred: [], checks: [], renderedChecks: [] };
    root[REPORT] = report;
    // the root is validated first (cdk8s validates in tree order): one error for the app, before anything is written
    Node.of(root).addValidation({
      validate: () => {
        const found = problemsOf(root);
        if (found.length > 0) throw new Cd4mlValidationError(found);
        return [];
      },
    });
  }
  return report;
}

/**
 * Adds a check to the app's one report. `renders`: the check renders objects, so it runs only when nothing else
 * was found.
 */
export function addSynthCheck(scope: IConstruct, check: () => readonly Problem[], options: { readonly renders?: boolean } = {}): void {
  const report = reportOf(scope);
  (options.renders ? report.renderedChecks : report.checks).push(check);
}

/** Every problem of the app `scope` belongs to: what was deferred and what its checks find now. */
export function problemsOf(scope: IConstruct): Problem[] {
  const report = reportOf(scope);
  const found = [...report.deferred, ...report.checks.flatMap((c) => c())];
  return found.length > 0 ? found : report.renderedChecks.flatMap((c) => c());
}

/** Throws the app's one report when it has any problem (what `app.synth()` does first). */
export function validateApp(scope: IConstruct): void {
  const found = problemsOf(scope);
  if (found.length > 0) throw new Cd4mlValidationError(found);
}

/**
 * The top-level props named by `problems` (`buckets[1].name` names `buckets`; `a, b` names both), so a construct
 * can go on building from the rest, its defaults in their place.
 */
export function withoutFields<T extends object>(props: T, problems: readonly Problem[]): T {
  const names = new Set(problems.flatMap((p) => p.field.split(/,\s*/).map((f) => f.split(/[.[\s(]/)[0])));
  return Object.fromEntries(Object.entries(props).filter(([k]) => !names.has(k))) as T;
}

/** Throws at once for a single problem; given the construct that checks, with the problems its app deferred before. */
export function fail(problem: Problem, scope?: IConstruct): never {
  throw new Cd4mlValidationError(scope ? [...reportOf(scope).deferred, problem] : [problem]);
}
