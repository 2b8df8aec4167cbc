import { Problem } from './errors';

// Durations are read the way Argo reads them: with Go's `time.ParseDuration`, whose grammar is
// `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` (or a bare "0"), with the units ns, us (µs, μs), ms, s, m and h, and no day unit.
// @see https://pkg.go.dev/time#ParseDuration

/** Nanoseconds per unit, as Go's `time` package defines them (`unitMap`). */
const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // µ, MICRO SIGN
  '\u03bcs': 1_000n, // μ, GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const NS_PER_SECOND = 1_000_000_000n;
/** Go's `time.Duration` is an int64 count of nanoseconds (about 292 years). */
const MAX_NS = 2n ** 63n - 1n;
const EXAMPLES = '"90s", "30m", "2h" or "1h30m"';

type GoParse = { readonly ns: bigint; readonly sign: '' | '+' | '-' } | { readonly error: string };

/** Go's `time.ParseDuration`, to the nanosecond; an error says why Go would refuse the text. */
function parseGo(text: string): GoParse {
  let s = text;
  let sign: '' | '+' | '-' = '';
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s[0] as '+' | '-';
    s = s.slice(1);
  }
  if (s === '0') return { ns: 0n, sign };
  if (s === '') return { error: 'it has no number' };
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, digits, fraction] = m;
    if (digits === '' && (fraction ?? '') === '') return { error: `"${s}" does not start with a number` };
    s = s.slice(whole.length);
    const unitText = /^[^\d.]*/.exec(s)![0];
    if (unitText === '') return { error: `"${whole}" has no unit` };
    const unit = UNITS[unitText];
    if (unit === undefined) return { error: `"${unitText}" is not a unit (use ns, us, ms, s, m or h)` };
    s = s.slice(unitText.length);
    let v = BigInt(digits === '' ? '0' : digits) * unit;
    if (fraction) v += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    total += v;
    if (total > MAX_NS + (sign === '-' ? 1n : 0n)) return { error: 'it is longer than Go allows (about 292 years)' };
  }
  return { ns: total, sign };
}

/**
 * Parses a duration exactly as Go's `time.ParseDuration` does, returning signed nanoseconds; undefined when Go would
 * refuse it (or it is not a string).
 */
export function parseGoDuration(value: unknown): bigint | undefined {
  if (typeof value !== 'string') return undefined;
  const p = parseGo(value);
  return 'error' in p ? undefined : (p.sign === '-' ? -p.ns : p.ns);
}

/**
 * Parses a Go duration (`90s`, `30m`, `1.5h`, `1h30m`) into seconds, for integer Kubernetes and Argo fields such as
 * `activeDeadlineSeconds`; undefined unless it is a positive, whole number of seconds.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const p = parseGo(value);
  if ('error' in p || p.sign !== '' || p.ns === 0n || p.ns % NS_PER_SECOND !== 0n) return undefined;
  return Number(p.ns / NS_PER_SECOND);
}

/** Formats whole seconds the way Go prints a duration, without zero parts: 5400 -> `1h30m`, 90 -> `1m30s`, 2 -> `2s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest ? `${rest}s` : ''}`;
}

function formatNs(ns: bigint): string {
  if (ns % NS_PER_SECOND === 0n) return formatDuration(Number(ns / NS_PER_SECOND));
  if (ns % 1_000_000n === 0n) return `${ns / 1_000_000n}ms`;
  if (ns % 1_000n === 0n) return `${ns / 1_000n}us`;
  return `${ns}ns`;
}

/** Rounds up to whole seconds, at least one. */
function ceilSeconds(ns: bigint): string {
  const s = (ns + NS_PER_SECOND - 1n) / NS_PER_SECOND;
  return formatDuration(Number(s < 1n ? 1n : s));
}

/** Words people write for units, mapped to nanoseconds. */
const UNIT_WORDS: ReadonlyArray<[RegExp, bigint]> = [
  [/^(w|wk|wks|week|weeks)$/, 7n * 24n * UNITS.h],
  [/^(d|day|days)$/, 24n * UNITS.h],
  [/^(h|hr|hrs|hour|hours)$/, UNITS.h],
  [/^(m|min|mins|minute|minutes)$/, UNITS.m],
  [/^(s|sec|secs|second|seconds)$/, UNITS.s],
  [/^(ms|msec|msecs|millis|millisecond|milliseconds)$/, UNITS.ms],
  [/^(us|\u00b5s|\u03bcs|micros|microsecond|microseconds)$/, UNITS.us],
  [/^(ns|nanos|nanosecond|nanoseconds)$/, UNITS.ns],
];

/** Reads what a person probably meant (`1d`, `2 hours`, `90`, `1H`, `-5m`) as positive nanoseconds, or undefined. */
function guess(text: string): bigint | undefined {
  let s = text.trim().replace(/^[-+]/, '').replace(/\s+/g, '');
  if (/^(\d+(\.\d*)?|\.\d+)$/.test(s)) s = `${s}s`; // a bare number is seconds, as Argo reads "30" in a retry backoff
  const parts = [...s.matchAll(/(\d+(?:\.\d*)?|\.\d+)([a-zA-Z\u00b5\u03bc]+)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) return undefined;
  let total = 0n;
  for (const [, num, rawUnit] of parts) {
    if (rawUnit === 'M') return undefined; // months or minutes? do not guess
    const unit = UNIT_WORDS.find(([re]) => re.test(rawUnit.toLowerCase()))?.[1];
    if (unit === undefined) return undefined;
    const [whole, fraction = ''] = num.split('.');
    total += BigInt(whole || '0') * unit + (fraction ? (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length) : 0n);
  }
  return total > 0n && total <= MAX_NS ? total : undefined;
}

/** How {@link checkDuration} reads a duration. */
export interface DurationCheckOptions {
  /**
   * Whether the value must be a whole number of seconds, at least one: true for values that end up in integer
   * seconds fields (`activeDeadlineSeconds`, `ttlStrategy.secondsAfterCompletion`). Set false for values Argo reads
   * as Go durations itself (`retryStrategy.backoff.duration`, `memoize.maxAge`), where `500ms` is fine.
   * @default true
   */
  readonly wholeSeconds?: boolean;
}

/** What is wrong with a duration, and a corrected duration when one can be worked out. */
export interface DurationIssue {
  /** What is wrong, in a few words. */
  readonly message: string;
  /** A corrected value that passes the same check, when one can be worked out. */
  readonly suggestion?: string;
}

/** Finds what is wrong with a duration (undefined when nothing is); {@link checkDuration} wraps it in a problem. */
export function diagnoseDuration(value: unknown, options: DurationCheckOptions = {}): DurationIssue | undefined {
  const whole = options.wholeSeconds ?? true;
  const show = (ns: bigint): string => (whole ? ceilSeconds(ns) : formatNs(ns));
  if (value === undefined || value === null) return { message: 'is missing' };
  if (typeof value === 'number') {
    const suggestion = Number.isFinite(value) && value > 0 ? formatDuration(Math.ceil(value)) : undefined;
    return { message: 'is a number, but a duration is a string with a unit', suggestion };
  }
  if (typeof value !== 'string') return { message: 'is not a duration string' };
  if (value.trim() === '') return { message: 'is empty' };
  const p = parseGo(value);
  if ('error' in p) {
    const g = guess(value);
    return { message: `is not a Go duration: ${p.error}`, suggestion: g === undefined ? undefined : show(g) };
  }
  if (p.ns === 0n) return { message: 'is zero, but it must be a positive duration' };
  if (p.sign === '-') return { message: 'is negative, but it must be a positive duration', suggestion: show(p.ns) };
  if (p.sign === '+') return { message: 'has a sign, but it must be a plain positive duration', suggestion: show(p.ns) };
  if (whole && p.ns < NS_PER_SECOND) {
    return { message: 'is under one second, but the field it sets counts whole seconds', suggestion: '1s' };
  }
  if (whole && p.ns % NS_PER_SECOND !== 0n) {
    return { message: 'is not a whole number of seconds, which the field it sets counts', suggestion: ceilSeconds(p.ns) };
  }
  return undefined;
}

/**
 * Checks a duration the way Argo reads it (Go's `time.ParseDuration`: `90s`, `1.5h`, `1h30m`, `300ms`), which must
 * be positive and, by default, a whole number of seconds; returns a problem that names the fix.
 */
export function checkDuration(value: unknown, site: { path: string; field: string }, options: DurationCheckOptions = {}): Problem | undefined {
  const issue = diagnoseDuration(value, options);
  if (!issue) return undefined;
  const valid = issue.suggestion !== undefined && diagnoseDuration(issue.suggestion, options) === undefined;
  const fix = valid ? `write "${issue.suggestion}"` : `write it like ${EXAMPLES}`;
  const units = issue.message.startsWith('is not a Go duration') ? ' (Go units are ns, us, ms, s, m and h; there is no day: 1d is "24h")' : '';
  return { ...site, value, message: issue.message, fix: `${fix}${units}` };
}
