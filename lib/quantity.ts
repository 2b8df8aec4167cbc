import { Problem } from './errors';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** The most cores one container or step can sensibly ask for; more is a unit mistake (`2G`, `1500` for `1500m`). */
export const MAX_CPU_CORES = 1024;
/** Memory and storage below this, written without a unit, is a forgotten suffix (`512` for `512Mi`). */
const MIN_PLAIN_BYTES = 2 ** 20;

/** What a quantity measures; decides which values make sense. */
export enum QuantityKind {
  /** CPU cores: `500m`, `2`. */
  CPU = 'cpu',
  /** Bytes of memory or storage: `512Mi`, `10Gi`. */
  BYTES = 'bytes',
  /** Whole devices such as GPUs (an extended resource like `nvidia.com/gpu`): `1`, `2`. */
  GPU = 'gpu',
}

const EXAMPLES: Record<QuantityKind, string> = {
  [QuantityKind.CPU]: '"250m" or "1"',
  [QuantityKind.BYTES]: '"512Mi" or "10Gi"',
  [QuantityKind.GPU]: '"1" or "2"',
};

interface Parts { readonly sign: string; readonly num: string; readonly suffix: string; readonly value: number }

function split(text: string): Parts | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign, num, suffix = ''] = m;
  let factor: number;
  if (suffix in BINARY) factor = BINARY[suffix];
  else if (suffix in DECIMAL) factor = DECIMAL[suffix];
  else factor = 10 ** Number(suffix.slice(1));
  const value = Number(num) * factor * (sign === '-' ? -1 : 1);
  return Number.isFinite(value) ? { sign, num, suffix, value } : undefined;
}

/** What is wrong with a quantity, and a corrected quantity when one can be worked out. */
interface QuantityIssue {
  readonly message: string;
  readonly suggestion?: string;
  /** What the suggestion changes, e.g. `use Mi or M for megabytes`. */
  readonly hint?: string;
}

/** Reads what a person probably meant (`10 GB`, `512MB`, `1GiB`, `2 cores`, `500 m`), or undefined. */
function guess(text: string, kind: QuantityKind): string | undefined {
  const s = text.replace(/\s+/g, '');
  if (kind === QuantityKind.BYTES) {
    const m = /^(\d+(?:\.\d+)?)([kmgtpe])(i?b|i)$/i.exec(s);
    if (m) return `${m[1]}${m[2].toUpperCase()}i`;
    const b = /^(\d+)(b|bytes?)$/i.exec(s);
    return b ? b[1] : s;
  }
  if (kind === QuantityKind.CPU) {
    const m = /^(\d+(?:\.\d+)?|\.\d+)(m|mc|millicores?|millicpus?|cores?|cpus?|vcpus?)?$/i.exec(s);
    if (m) return /^m/i.test(m[2] ?? '') ? `${m[1]}m` : m[1];
  }
  return s;
}

function diagnose(value: unknown, kind: QuantityKind): QuantityIssue | undefined {
  if (value === undefined || value === null) return { message: 'is missing' };
  if (kind === QuantityKind.GPU) return diagnoseDevices(value);
  if (typeof value === 'number') {
    const message = `is a number, but a quantity here is a string like ${EXAMPLES[kind]}`;
    return diagnose(String(value), kind) === undefined ? { message, suggestion: String(value), hint: 'write it as a string' } : { message };
  }
  if (typeof value !== 'string') return { message: `is not a string like ${EXAMPLES[kind]}` };
  if (value.trim() !== value && value.trim() !== '') return { message: 'has spaces around it', suggestion: value.trim(), hint: 'drop the spaces' };
  const q = split(value);
  if (!q) return { message: 'is not a Kubernetes quantity', suggestion: guess(value, kind) };
  if (q.value <= 0) return { message: 'must be greater than zero' };
  if (kind === QuantityKind.CPU) return diagnoseCpu(q);
  return diagnoseBytes(q);
}

function diagnoseCpu(q: Parts): QuantityIssue | undefined {
  const cores = Number(q.value.toPrecision(12));
  if (q.suffix in BINARY) {
    return { message: `has the binary suffix "${q.suffix}", which counts bytes, but CPU is counted in cores or millicores`, hint: 'a memory size belongs in the memory field' };
  }
  if (['k', 'M', 'G', 'T', 'P', 'E'].includes(q.suffix)) {
    const millicores = q.suffix === 'M' ? { suggestion: `${q.num}m`, hint: 'a memory size belongs in the memory field; for millicores write a lower-case m' } : { hint: 'a memory size belongs in the memory field' };
    return { message: `has the suffix "${q.suffix}", which multiplies (it asks for ${cores} cores); CPU is counted in cores ("2") or millicores ("500m")`, ...millicores };
  }
  if (q.value > MAX_CPU_CORES) {
    const millicores = q.suffix === '' ? { suggestion: `${q.num}m`, hint: 'for millicores add m' } : {};
    return { message: `asks for ${cores} cores, more than any node has (at most ${MAX_CPU_CORES})`, ...millicores };
  }
  if (q.value < 1e-3) return { message: 'is below 1m, the smallest CPU amount Kubernetes can give', suggestion: '1m', hint: 'ask for at least one millicore' };
  return undefined;
}

function diagnoseBytes(q: Parts): QuantityIssue | undefined {
  const fractional: Record<string, string> = { m: 'milli', u: 'micro', n: 'nano' };
  if (q.suffix in fractional) {
    return {
      message: `is ${Number(q.value.toPrecision(12))} bytes: a "${q.suffix}" suffix means ${fractional[q.suffix]}, not mega`,
      suggestion: `${q.num}Mi`,
      hint: 'use Mi or M for megabytes',
    };
  }
  if (q.value < MIN_PLAIN_BYTES && !(q.suffix in BINARY) && !(q.suffix in DECIMAL && q.suffix !== '')) {
    return {
      message: `is only ${Number(q.value.toPrecision(12))} bytes (a quantity without a suffix counts bytes)`,
      suggestion: q.suffix === '' ? `${q.num}Mi` : undefined,
      hint: 'add a unit such as Mi or Gi',
    };
  }
  return undefined;
}

/** Devices (GPUs) are counted whole: Kubernetes refuses fractions of an extended resource. */
function diagnoseDevices(value: unknown): QuantityIssue | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? split(value)?.value : undefined;
  if (typeof value === 'string' && /^[1-9]\d*$/.test(value)) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return undefined;
  const hint = 'request whole GPUs (Kubernetes cannot share one between containers)';
  if (n === undefined || !Number.isFinite(n) || n <= 0) return { message: 'is not a whole number of GPUs of at least 1', hint };
  if (Number.isInteger(n)) return { message: 'is not written as a plain whole number', suggestion: String(n), hint: 'write the count alone' };
  return { message: 'is not a whole number of GPUs', suggestion: String(Math.ceil(n)), hint };
}

/**
 * A Kubernetes resource quantity (`500m`, `1.5`, `512Mi`, `10Gi`), parsed so it can be checked and summed.
 * @see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
export class Quantity {
  /**
   * Checks a quantity for what it measures: malformed, zero or negative values, units of the wrong kind (a CPU of
   * `1Gi` or `2G`, a memory of `250m` or `512`), absurd CPU counts, and non-strings passed from JavaScript. The fix
   * names a corrected value when one can be worked out, and that value passes this check.
   */
  public static check(value: unknown, kind: QuantityKind, site: { path: string; field: string }): Problem | undefined {
    const issue = diagnose(value, kind);
    if (!issue) return undefined;
    const valid = issue.suggestion !== undefined && issue.suggestion !== value && diagnose(issue.suggestion, kind) === undefined;
    const fix = valid ? (issue.hint ? `${issue.hint}: "${issue.suggestion}"` : `write "${issue.suggestion}"`) : `${issue.hint ? `${issue.hint}; ` : ''}write it like ${EXAMPLES[kind]}`;
    return { ...site, value, message: issue.message, fix };
  }

  /** Parses a quantity or returns undefined when it is malformed (or not a string). */
  public static tryParse(value: unknown): Quantity | undefined {
    if (typeof value !== 'string') return undefined;
    const q = split(value.trim());
    return q ? new Quantity(value, q.value) : undefined;
  }

  /** Parses a quantity or throws (for values that were already checked). */
  public static parse(value: string): Quantity {
    const q = Quantity.tryParse(value);
    if (!q) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(value)}`);
    return q;
  }

  private constructor(
    /** The quantity as written. */
    public readonly text: string,
    /** Its value in base units (cores or bytes). */
    public readonly value: number,
  ) {}
}

/** Formats cores as millicores (`1250m`) and bytes as Mi (`1536Mi`), for totals in reports. */
export function formatCpu(cores: number): string {
  return `${Math.round(cores * 1000)}m`;
}

/** Formats bytes as whole Mi. */
export function formatBytes(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)}Mi`;
}
