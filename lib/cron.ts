import { diagnoseDuration, parseGoDuration } from './duration';
import { Problem } from './errors';

// Schedules are checked the way the engines that run them parse them. Both use robfig/cron v3's `ParseStandard`:
// - Argo Workflows validates a CronWorkflow with `cron.ParseStandard(cronWf.Spec.Schedule)` (workflow/validate/validate.go,
//   ValidateCronWorkflow) and schedules `CRON_TZ=<spec.timezone> <schedule>` (CronWorkflowSpec.GetSchedulesWithTimezone).
// - Kubernetes validates a CronJob with `cron.ParseStandard(schedule)` and refuses any schedule containing "TZ"
//   ("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"; pkg/apis/batch/validation/validation.go,
//   validateScheduleFormat); the controller prepends `TZ=<spec.timeZone>` itself.
// So one check serves both: the two engines accept the same schedules once a time zone lives in its own field, which
// is how our constructs always set it.
// robfig/cron v3 parser.go and spec.go: exactly five fields (minute hour day-of-month month day-of-week); bounds 0-59,
// 0-23, 1-31, 1-12 and 0-6 (7 is an error, not Sunday); names JAN-DEC and SUN-SAT in any case, also inside ranges;
// items `*`, `?` (a synonym of `*`, in any field), `n`, `a-b`, each with an optional `/step` (`n/step` means n-max);
// steps of at least 1; low <= high; lists with `,`; descriptors @yearly @annually @monthly @weekly @daily @midnight
// @hourly, matched exactly, and `@every <Go duration>`.
// We are stricter than robfig only where it silently does something other than what the text says: `*-5` (robfig
// ignores the `-5`), a step wider than its range (`*/90` in minutes runs once an hour), `@every` under a second or with
// a fraction of one (robfig clamps and truncates), a day of month that the chosen months never have (`0 0 30 2 *`
// never runs), and `TZ=`/`CRON_TZ=` prefixes (the time zone has its own prop).
// @see https://pkg.go.dev/github.com/robfig/cron/v3#hdr-CRON_Expression_Format
// @see https://argo-workflows.readthedocs.io/en/latest/cron-workflows/
// @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names of the values from `min` upwards, when the field has names. */
  readonly names?: readonly string[];
}

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];
const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
/** Longest day of each month (February in a leap year). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const EXAMPLE = 'write it like "0 3 * * *" (03:00 every day), "*/15 * * * MON-FRI" or "@daily"';

/** What is wrong with a schedule, and a corrected schedule when one can be worked out. */
interface CronIssue {
  readonly message: string;
  /** A corrected schedule; only offered when it passes the check itself. */
  readonly suggestion?: string;
  /** Says what the suggestion changes, e.g. `use 0 for Sunday`. */
  readonly hint?: string;
}

/** An issue in one field: what is wrong, and the field rewritten when that can be worked out. */
interface FieldIssue {
  readonly message: string;
  readonly replacement?: string;
  readonly hint?: string;
}

/** A value of a field: a number (robfig's `strconv.Atoi`, so `+5` too) or, where the field has names, a name. */
function valueOf(token: string, f: CronField): number | undefined {
  if (/^\+?\d+$/.test(token)) return Number(token);
  const i = f.names?.indexOf(token.toUpperCase()) ?? -1;
  return i >= 0 ? f.min + i : undefined;
}

/** Renders a value in the style of `like` (a name if it was a name). */
function render(n: number, like: string, f: CronField): string {
  return f.names && /^[a-z]+$/i.test(like) ? f.names[n - f.min] : String(n);
}

function badValue(token: string, f: CronField): FieldIssue {
  if (f.names && /^[a-z]{4,}$/i.test(token) && f.names.includes(token.slice(0, 3).toUpperCase())) {
    const short = token.slice(0, 3).toUpperCase();
    return { message: `has the ${f.name} "${token}", not a three-letter name`, replacement: short, hint: `write ${short}` };
  }
  if (/^(L(-\d+)?|LW|\d+[LW]|(\d+|[a-z]{3})(#\d+|L))$/i.test(token)) {
    return { message: `uses "${token}" in the ${f.name}, Quartz syntax (L, W, #) that robfig/cron does not read` };
  }
  const names = f.names ? ` or a name ${f.names[0]}-${f.names[f.names.length - 1]}` : '';
  return { message: `has "${token}" in the ${f.name}, which is not a number${names}` };
}

/** Checks one comma-separated item of a field (`*`, `5`, `1-5`, `MON-FRI/2`, `*\/15`). */
function checkItem(item: string, f: CronField): FieldIssue | undefined {
  const slash = item.split('/');
  if (slash.length > 2) return { message: `has "${item}" in the ${f.name}, with more than one "/"` };
  const [range, stepText] = slash;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\+?\d+$/.test(stepText)) return { message: `has the step "${stepText}" in the ${f.name}, which is not a number` };
    step = Number(stepText);
    if (step < 1) return { message: `has the step ${stepText} in the ${f.name}; a step must be at least 1`, replacement: range, hint: 'drop the step' };
  }
  const ends = range.split('-');
  if (ends.length > 2) return { message: `has "${range}" in the ${f.name}, with more than one "-"` };
  let lo: number;
  let hi: number;
  if (ends[0] === '*' || ends[0] === '?') {
    if (ends.length === 2) {
      return {
        message: `has "${range}" in the ${f.name}; robfig/cron reads it as "${ends[0]}" and ignores the rest`,
        replacement: `${f.min}-${ends[1]}${stepText !== undefined ? `/${stepText}` : ''}`,
        hint: 'start the range at a number',
      };
    }
    [lo, hi] = [f.min, f.max];
  } else {
    const a = valueOf(ends[0], f);
    if (a === undefined) return badValue(ends[0], f);
    const b = ends.length === 2 ? valueOf(ends[1], f) : (stepText !== undefined ? f.max : a);
    if (b === undefined) return badValue(ends[1], f);
    [lo, hi] = [a, b];
    const out = [a, b].find((n) => n < f.min || n > f.max);
    if (out !== undefined) {
      const bounds = `${f.min}-${f.max}${f.names ? ` (${f.names[0]}-${f.names[f.names.length - 1]})` : ''}`;
      if (f.name === 'day of week' && out === 7) {
        const replacement = a === 7 ? (ends.length === 1 || b === 7 ? '0' : `0-${ends[1]}`) : `${ends[0]}-6,0`;
        return {
          message: `has day of week 7, outside ${bounds}: robfig/cron, which Argo and Kubernetes use, has no 7 for Sunday`,
          replacement: stepText === undefined ? replacement : undefined,
          hint: 'use 0 for Sunday',
        };
      }
      const replacement = ends.length === 2 && a >= f.min && a <= f.max ? `${ends[0]}-${render(f.max, ends[1], f)}` : String(f.min);
      return { message: `has the ${f.name} ${out}, outside ${bounds}`, replacement: stepText === undefined ? replacement : undefined, hint: `keep the ${f.name} within ${f.min}-${f.max}` };
    }
    if (a > b) {
      const left = a === f.max ? ends[0] : `${ends[0]}-${render(f.max, ends[0], f)}`;
      const right = b === f.min ? ends[1] : `${render(f.min, ends[1], f)}-${ends[1]}`;
      return {
        message: `has the range ${range} in the ${f.name}, which runs backwards`,
        replacement: stepText === undefined ? `${left},${right}` : undefined,
        hint: 'split a range that wraps around',
      };
    }
  }
  if (step > 1 && lo + step > hi) {
    return {
      message: `has "${item}" in the ${f.name}: the step ${step} is wider than the range, so it only matches ${lo}`,
      replacement: render(lo, ends[0], f),
      hint: `write the single ${f.name}, or a smaller step`,
    };
  }
  return undefined;
}

/** The values a field matches, once it is known to be valid. */
function valuesOf(text: string, f: CronField): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',').filter((i) => i !== '')) {
    const [range, stepText] = item.split('/');
    const ends = range.split('-');
    const star = ends[0] === '*' || ends[0] === '?';
    const lo = star ? f.min : valueOf(ends[0], f)!;
    const hi = star ? f.max : ends.length === 2 ? valueOf(ends[1], f)! : stepText !== undefined ? f.max : lo;
    for (let n = lo; n <= hi; n += stepText === undefined ? 1 : Number(stepText)) values.add(n);
  }
  return values;
}

function diagnoseFields(fields: readonly string[]): CronIssue | undefined {
  for (const [i, text] of fields.entries()) {
    const f = FIELDS[i];
    const items = text.split(',');
    // robfig drops empty items (strings.FieldsFunc), so "1,,2" is "1,2"; a field of commas only would never match.
    if (items.every((item) => item === '')) return { message: `has no value in the ${f.name}` };
    for (const item of items.filter((it) => it !== '')) {
      const issue = checkItem(item, f);
      if (issue) {
        const suggestion = issue.replacement === undefined ? undefined
          : fields.map((t, j) => (j === i ? items.map((it) => (it === item ? issue.replacement : it)).join(',') : t)).join(' ');
        return { message: issue.message, suggestion, hint: issue.hint };
      }
    }
  }
  // With day of week "*" (or "?"), robfig matches on the day of month alone: a day no chosen month has never comes.
  if (/^[*?]$/.test(fields[4])) {
    const days = valuesOf(fields[2], FIELDS[2]);
    const months = [...valuesOf(fields[3], FIELDS[3])];
    if (!months.some((m) => [...days].some((d) => d <= MONTH_DAYS[m - 1]))) {
      return { message: `never runs: no chosen month has day ${[...days].join(',')}` };
    }
  }
  return undefined;
}

function diagnoseCron(value: unknown): CronIssue | undefined {
  if (value === undefined || value === null) return { message: 'is missing' };
  if (typeof value !== 'string') return { message: 'is not a string' };
  if (value.trim() === '') return { message: 'is empty' };
  const tz = /^\s*(CRON_TZ|TZ)=\S*\s*/.exec(value);
  if (tz || value.includes('TZ')) {
    return {
      message: 'sets a time zone inside the schedule (Argo prepends CRON_TZ from the timezone prop, and Kubernetes refuses TZ in schedules)',
      suggestion: tz ? value.slice(tz[0].length) : undefined,
      hint: 'set the time zone with the timezone prop and drop the prefix',
    };
  }
  const trimmed = value.trim();
  if (trimmed.startsWith('@')) return diagnoseDescriptor(value, trimmed);
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) {
    const quartz = fields.length === 6 ? [fields.slice(1), fields.slice(0, 5)] : fields.length === 7 ? [fields.slice(1, 6)] : [];
    const fit = quartz.map((f) => f.join(' ')).find((s) => diagnoseCron(s) === undefined);
    return {
      message: `is not a cron expression with five fields (it has ${fields.length})`,
      suggestion: fit,
      hint: fields.length > 5 ? 'robfig/cron reads minute hour day-of-month month day-of-week, with no seconds or year field' : undefined,
    };
  }
  return diagnoseFields(fields);
}

function diagnoseDescriptor(value: string, trimmed: string): CronIssue | undefined {
  const spaced = trimmed !== value ? { message: 'has spaces around a descriptor, which robfig/cron does not trim', suggestion: trimmed, hint: 'drop the spaces' } : undefined;
  const every = /^@every(\s*)(.*)$/i.exec(trimmed);
  if (every) {
    const [, gap, text] = every;
    const ns = parseGoDuration(text);
    const better = diagnoseDuration(text)?.suggestion;
    const suggestion = better === undefined ? undefined : `@every ${better}`;
    const hint = 'give @every a Go duration of whole seconds';
    if (text === '') return { message: 'has no interval after @every', hint };
    if (ns === undefined) return { message: `has an @every interval "${text}" that is not a Go duration (units ns, us, ms, s, m, h)`, suggestion, hint };
    if (ns <= 0n || text.startsWith('+')) return { message: 'has an @every interval that is not a positive duration', suggestion, hint };
    if (ns < 1_000_000_000n) return { message: 'has an @every interval under one second (robfig/cron runs it once a second)', suggestion, hint };
    if (ns % 1_000_000_000n !== 0n) return { message: 'has an @every interval with a fraction of a second (robfig/cron drops the fraction)', suggestion, hint };
    if (gap !== ' ' || !trimmed.startsWith('@every')) return { message: 'is not written "@every <duration>"', suggestion: `@every ${text}`, hint: 'write @every in lower case, then one space' };
    return spaced;
  }
  if (DESCRIPTORS.has(trimmed)) return spaced;
  if (DESCRIPTORS.has(trimmed.toLowerCase())) return { message: 'is a descriptor in the wrong case (robfig/cron matches them exactly)', suggestion: trimmed.toLowerCase(), hint: 'write it in lower case' };
  return { message: `is not a descriptor robfig/cron knows (${[...DESCRIPTORS].join(', ')}, @every <duration>)` };
}

/**
 * Checks a schedule as Argo CronWorkflows and Kubernetes CronJobs parse it (robfig/cron v3 `ParseStandard`): five
 * fields such as `0 3 * * MON-FRI`, or a descriptor such as `@daily` or `@every 1h30m`. The time zone belongs in its
 * own prop, never in the schedule.
 */
export function checkCron(value: unknown, site: { path: string; field: string }): Problem | undefined {
  const issue = diagnoseCron(value);
  if (!issue) return undefined;
  const valid = issue.suggestion !== undefined && diagnoseCron(issue.suggestion) === undefined;
  const fix = valid ? `${issue.hint ?? 'write it'}: "${issue.suggestion}"` : `${issue.hint ? `${issue.hint}; ` : ''}${EXAMPLE}`;
  return { ...site, value, message: issue.message, fix };
}
