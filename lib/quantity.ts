import { Problem } from './errors';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** What a quantity measures; decides which values make sense. */
export enum QuantityKind {
  /** CPU cores: `500m`, `2`. */
  CPU = 'cpu',
  /** Bytes of memory or storage: `512Mi`, `10Gi`. */
  BYTES = 'bytes',
}

/**
 * A Kubernetes resource quantity (`500m`, `1.5`, `512Mi`, `10Gi`), parsed so it can be checked and summed.
 * @see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
export class Quantity {
  /** Parses a quantity, returning a problem when it is malformed, negative or zero where that makes no sense. */
  public static check(value: string | undefined, kind: QuantityKind, site: { path: string; field: string }): Problem | undefined {
    const q = Quantity.tryParse(value);
    const example = kind === QuantityKind.CPU ? '"250m" or "1"' : '"512Mi" or "10Gi"';
    if (!q) {
      return { ...site, value, message: 'is not a Kubernetes quantity', fix: `write it like ${example}` };
    }
    if (q.value <= 0) {
      return { ...site, value, message: 'must be greater than zero', fix: `write it like ${example}` };
    }
    if (kind === QuantityKind.BYTES && q.value < 1) {
      return { ...site, value, message: 'is less than one byte (a "m" suffix means milli, not mega)', fix: 'use Mi or M for megabytes' };
    }
    return undefined;
  }

  /** Parses a quantity or returns undefined when it is malformed. */
  public static tryParse(value: string | undefined): Quantity | undefined {
    if (typeof value !== 'string') return undefined;
    const m = QUANTITY.exec(value.trim());
    if (!m) return undefined;
    const [, sign, num, suffix = ''] = m;
    let factor: number;
    if (suffix in BINARY) factor = BINARY[suffix];
    else if (suffix in DECIMAL) factor = DECIMAL[suffix];
    else factor = 10 ** Number(suffix.slice(1));
    const n = Number(num) * factor * (sign === '-' ? -1 : 1);
    return Number.isFinite(n) ? new Quantity(value, n) : undefined;
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
