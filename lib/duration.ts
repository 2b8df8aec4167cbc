import { Problem } from './errors';

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * Parses a duration in the Go style Argo reads (`90s`, `30m`, `2h`, `1h30m`) into seconds; undefined when malformed.
 */
export function parseDuration(value: string | undefined): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const m = DURATION.exec(value);
  if (!m) return undefined;
  const [, h = '0', min = '0', s = '0'] = m;
  const seconds = Number(h) * 3600 + Number(min) * 60 + Number(s);
  return seconds > 0 ? seconds : undefined;
}

/** Checks a duration, returning a problem that names the fix. */
export function checkDuration(value: string | undefined, site: { path: string; field: string }): Problem | undefined {
  if (parseDuration(value) !== undefined) return undefined;
  return { ...site, value, message: 'is not a positive duration', fix: 'write it like "90s", "30m", "2h" or "1h30m"' };
}
