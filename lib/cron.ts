import { Problem } from './errors';

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$|^[A-Za-z]{3}(-[A-Za-z]{3})?$/;
/** Bounds of minute, hour, day of month, month, day of week. */
const CRON_BOUNDS: ReadonlyArray<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

/** Checks a five-field cron expression (values within each field's range) or a descriptor like `@daily`. */
export function checkCron(value: string | undefined, site: { path: string; field: string }): Problem | undefined {
  if (typeof value === 'string') {
    if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(value)) return undefined;
    const fields = value.trim().split(/\s+/);
    const inRange = (f: string, [lo, hi]: [number, number]) => (f.match(/\d+/g) ?? []).every((n, i, all) => {
      const isStep = f.includes('/') && i === all.length - 1;
      return isStep ? Number(n) >= 1 : Number(n) >= lo && Number(n) <= hi;
    });
    if (fields.length === 5 && fields.every((f, i) => CRON_FIELD.test(f) && inRange(f, CRON_BOUNDS[i]))) return undefined;
  }
  return { ...site, value, message: 'is not a cron expression with five fields', fix: 'write it like "0 3 * * *" (03:00 every day) or "@daily"' };
}
