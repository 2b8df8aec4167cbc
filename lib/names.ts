import { Problem } from './errors';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** S3 bucket names: 3-63 chars, lowercase letters, digits, dots and hyphens, starting and ending alphanumeric. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Postgres identifiers we accept: unquoted, lowercase, at most 63 bytes. */
const PG_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a name sits, for error messages. */
export interface NameSite {
  /** Construct path. */
  readonly path: string;
  /** Field holding the name. */
  readonly field: string;
}

/**
 * Checks a DNS-1123 label (Namespaces, Services, most object names that appear in DNS): at most 63 chars,
 * lowercase alphanumerics and '-', alphanumeric at both ends.
 */
export function checkDnsLabel(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && value.length <= 63 && DNS1123_LABEL.test(value)) return undefined;
  return {
    ...site,
    value,
    message: 'is not a valid DNS-1123 label (at most 63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit)',
    fix: `use a name like "${suggestName(value)}"`,
  };
}

/** Checks a DNS-1123 subdomain (ConfigMap, Secret, ServiceAccount names): at most 253 chars. */
export function checkDnsSubdomain(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && value.length <= 253 && DNS1123_SUBDOMAIN.test(value)) return undefined;
  return {
    ...site,
    value,
    message: 'is not a valid DNS-1123 subdomain (at most 253 characters of a-z, 0-9, "-" and ".")',
    fix: `use a name like "${suggestName(value)}"`,
  };
}

/** Checks an environment variable name (also the key of a Secret consumed as env). */
export function checkEnvName(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && ENV_NAME.test(value)) return undefined;
  return { ...site, value, message: 'is not a valid environment variable name', fix: 'use letters, digits and "_", not starting with a digit' };
}

/** Checks an S3 bucket name. */
export function checkBucketName(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && BUCKET.test(value) && !value.includes('..')) return undefined;
  return {
    ...site,
    value,
    message: 'is not a valid S3 bucket name (3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit)',
    fix: `use a name like "${suggestName(value)}"`,
  };
}

/** Checks a Postgres database or role name (unquoted lowercase identifier). */
export function checkPostgresIdentifier(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && PG_IDENT.test(value)) return undefined;
  return {
    ...site,
    value,
    message: 'is not a plain Postgres identifier (a-z, 0-9 and "_", starting with a letter or "_", at most 63 characters)',
    fix: `use a name like "${(suggestName(value) || 'db').replace(/-/g, '_')}"`,
  };
}

/** Lowercases and replaces invalid characters, to suggest a fix. */
export function suggestName(value: unknown): string {
  const s = String(value ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s === '' ? 'my-name' : s;
}

/** Checks a whole number within bounds (replicas, workers, counts). */
export function checkCount(value: number | undefined, min: number, site: NameSite, max = Number.MAX_SAFE_INTEGER): Problem | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return undefined;
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return { ...site, value, message: `must be a whole number ${range}`, fix: `set ${site.field} to a whole number ${range}` };
}

/** Checks a uid or gid a container may run as (not root). */
export function checkUid(value: number | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 2147483647) return undefined;
  return { ...site, value, message: 'is not a non-root uid', fix: 'use a whole number from 1 (0 is root, which Pod Security "restricted" forbids)' };
}

/** Checks an IPv4 or IPv6 block in CIDR notation. */
export function checkCidr(value: string | undefined, site: NameSite): Problem | undefined {
  const v4 = /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)\/(3[0-2]|[12]?\d)$/;
  const v6 = /^[0-9a-fA-F:]+:[0-9a-fA-F:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;
  if (typeof value === 'string' && (v4.test(value) || v6.test(value))) return undefined;
  return { ...site, value, message: 'is not a CIDR block', fix: 'write it like "10.0.0.0/16" or "0.0.0.0/0"' };
}

/**
 * Checks a Host header pattern for MLflow's `--allowed-hosts`: an exact host, `host:*` (any port), or `*.domain.tld`.
 * Anything that would match every host (`*`, `*:*`, `**`, `*.*`) is refused.
 */
export function checkHostPattern(value: string | undefined, site: NameSite): Problem | undefined {
  const host = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
  const ok = new RegExp(`^(${host}(:(\\d{1,5}|\\*))?|\\*\\.${host}\\.${host}(:(\\d{1,5}|\\*))?)$`);
  if (typeof value === 'string' && ok.test(value)) return undefined;
  return { ...site, value, message: 'is not a host, host:port, host:* or *.domain.tld pattern (a broader wildcard would accept any Host header)', fix: 'list the exact host names clients use, e.g. "mlflow.example.com"' };
}

/** An OCI image reference: optional registry host[:port], a lowercase path, then a tag and/or digest. */
const IMAGE_REFERENCE = /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Checks an image reference and that it is pinned: a tag other than `latest`, or a digest. */
export function checkImage(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value !== 'string' || value.trim() === '') return { ...site, value, message: 'is missing', fix: 'give the image, pinned by tag or digest' };
  if (!IMAGE_REFERENCE.test(value)) return { ...site, value, message: 'is not a valid image reference', fix: 'write it like "registry.example/team/image:1.2.0" (lowercase path, no spaces)' };
  const last = value.split('/').pop() ?? '';
  if (!(/:[\w][\w.-]{0,127}(@sha256:[a-f0-9]{64})?$/.test(last) || /@sha256:[a-f0-9]{64}$/.test(value)) || /:latest(@|$)/.test(last)) {
    return { ...site, value, message: 'is not pinned', fix: 'add a version tag (not "latest") or a digest, e.g. "my-image:1.2.0"' };
  }
  return undefined;
}
