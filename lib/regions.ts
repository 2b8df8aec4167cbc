import { Problem } from './errors';
import { describeType, NameSite } from './names';

/** An AWS region: `us-east-1`, `eu-central-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`. */
const AWS_REGION = /^[a-z]{2}(-(gov|iso|isob|isoe|isof))?-[a-z]+-\d{1,2}$/;
/**
 * A region an S3-compatible server outside AWS signs for: lowercase letters, digits and "-", starting with a letter,
 * 2 to 32 characters. This admits `auto` (Cloudflare R2, GCS), `nyc3` (DigitalOcean), `fr-par` (Scaleway),
 * `us-west-004` (Backblaze), `garage`, and whatever a MinIO or SeaweedFS is told.
 */
const S3_REGION = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

/** Whether a host is an AWS S3 endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`). */
export function isAwsHost(host: string): boolean {
  return /(^|\.)amazonaws\.com(\.cn)?$/i.test(host);
}

/**
 * The region an AWS S3 endpoint host names (`s3.eu-central-1.amazonaws.com`, `s3-eu-west-1.amazonaws.com`,
 * `s3.dualstack.us-east-2.amazonaws.com`, `s3-fips.us-gov-west-1.amazonaws.com`), or undefined (`s3.amazonaws.com`).
 */
export function regionOfAwsHost(host: string): string | undefined {
  const m = /(?:^|\.)s3(?:-fips)?(?:\.dualstack)?[.-]([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/i.exec(host);
  return m ? m[1].toLowerCase() : undefined;
}

/** What {@link checkRegion} requires beyond the shape of a region. */
export interface RegionRules {
  /** The endpoint is AWS: the region must be an AWS region. @default false */
  readonly aws?: boolean;
  /** The region the endpoint's host names: the region must be it. @default - any */
  readonly expected?: string;
}

/**
 * Checks the S3 region requests are signed for: an AWS region's shape (`eu-central-1`) for AWS endpoints, and for any
 * other server a plain lowercase name (`us-east-1`, `auto`, `fr-par`); with an AWS endpoint that names its region, that
 * very region (S3 refuses a request signed for another).
 */
export function checkRegion(value: unknown, site: NameSite, rules: RegionRules = {}): Problem | undefined {
  const example = rules.expected ?? 'us-east-1';
  if (value === undefined || value === null || value === '') return { ...site, value, message: 'is missing', fix: `give the region, e.g. "${example}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a region name`, fix: `give the region as a string, e.g. "${example}"` };
  const guess = value.trim().toLowerCase().replace(/[\s_]+/g, '-');
  const fits = (v: string): boolean => S3_REGION.test(v) && (!rules.aws || AWS_REGION.test(v)) && (rules.expected === undefined || v === rules.expected);
  const fix = `use "${fits(guess) ? guess : example}"`;
  if (!S3_REGION.test(value)) return { ...site, value, message: 'is not a region name (2 to 32 lowercase letters, digits and "-", like "us-east-1" or "eu-central-1")', fix };
  if (rules.aws && !AWS_REGION.test(value)) return { ...site, value, message: 'is not an AWS region, which the endpoint needs (like "eu-central-1")', fix };
  if (rules.expected !== undefined && value !== rules.expected) {
    return { ...site, value, message: `differs from the region the endpoint's host names (${rules.expected}): S3 refuses requests signed for another region`, fix };
  }
  return undefined;
}
