import { isIPv4, isIPv6 } from 'net';
import { findCredential, REDACTED } from './credentials';
import { Problem } from './errors';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
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

/** Prefixes S3 reserves: no bucket name may start with them. */
export const RESERVED_BUCKET_PREFIXES: readonly string[] = ['xn--', 'sthree-', 'amzn-s3-demo-'];
/** Suffixes S3 reserves (access point aliases, Object Lambda, directory and table buckets, multi-region access points). */
export const RESERVED_BUCKET_SUFFIXES: readonly string[] = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** What breaks the S3 bucket naming rules, or undefined. */
function bucketIssue(value: unknown): string | undefined {
  if (value === undefined || value === null) return 'is missing';
  if (typeof value !== 'string') return `is ${describeType(value)}, not a name`;
  if (value.length < 3 || value.length > 63) return `has ${value.length} characters, not 3 to 63`;
  if (!/^[a-z0-9.-]+$/.test(value)) return 'holds characters other than a-z, 0-9, "." and "-"';
  if (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value)) return 'does not start and end with a letter or digit';
  if (value.includes('..')) return 'holds two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) return 'is formatted like an IP address';
  const prefix = RESERVED_BUCKET_PREFIXES.find((x) => value.startsWith(x));
  if (prefix) return `starts with "${prefix}", which S3 reserves`;
  const suffix = RESERVED_BUCKET_SUFFIXES.find((x) => value.endsWith(x));
  if (suffix) return `ends with "${suffix}", which S3 reserves`;
  return undefined;
}

/** A bucket name that passes {@link checkBucketName}, derived from a bad one. */
export function suggestBucketName(value: unknown): string {
  let s = (typeof value === 'string' ? value : '').toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/\.{2,}/g, '.');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) s = s.replace(/\./g, '-');
  for (const x of RESERVED_BUCKET_PREFIXES) if (s.startsWith(x)) s = s.slice(x.length);
  for (const x of RESERVED_BUCKET_SUFFIXES) if (s.endsWith(x)) s = s.slice(0, -x.length);
  s = s.replace(/^[^a-z0-9]+/, '').slice(0, 63).replace(/[^a-z0-9]+$/, '');
  if (s.length > 0 && s.length < 3) s = `${s}-bucket`;
  return bucketIssue(s) === undefined ? s : 'my-bucket';
}

/**
 * Checks an S3 bucket name by the full S3 rules: 3-63 characters of a-z, 0-9, "." and "-", starting and ending with
 * a letter or digit, no two adjacent dots, not shaped like an IP address, none of S3's reserved prefixes or suffixes.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
export function checkBucketName(value: string | undefined, site: NameSite): Problem | undefined {
  const issue = bucketIssue(value);
  if (issue === undefined) return undefined;
  return {
    ...site,
    value,
    message: `is not a valid S3 bucket name: it ${issue} (3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit)`,
    fix: `use a name like "${suggestBucketName(value)}"`,
  };
}

/** Checks a Postgres database or role name (unquoted lowercase identifier). */
export function checkPostgresIdentifier(value: string | undefined, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && PG_IDENT.test(value)) return undefined;
  return {
    ...site,
    value,
    message: 'is not a plain Postgres identifier (a-z, 0-9 and "_", starting with a letter or "_", at most 63 characters)',
    fix: `use a name like "${suggestName(value).replace(/-/g, '_').replace(/^(\d)/, 'db_$1')}"`,
  };
}

/** Lowercases and replaces invalid characters, to suggest a fix (`my-name` for anything but a string or number). */
export function suggestName(value: unknown): string {
  const s = (typeof value === 'string' || typeof value === 'number' ? String(value) : '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s === '' ? 'my-name' : s;
}

/**
 * A copy of props as given: plain objects and arrays are copied all the way down, anything else (a construct, a
 * Secret, a bucket) and anything frozen (a marker such as `FanOut.ITEM`, compared by identity) is kept by reference.
 * Constructs keep this copy, so a caller that changes its props object after the call cannot slip an unchecked value
 * into the output. An object met twice (a cycle) is copied once.
 */
export function snapshot<T>(value: T, seen = new Map<object, unknown>()): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (seen.has(value)) return seen.get(value) as T;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const v of value) copy.push(snapshot(v, seen));
    return copy as unknown as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) copy[k] = snapshot(v, seen);
  return copy as T;
}

/** Refuses props that are not an object (a JavaScript caller's `undefined`, `null`, a string). */
export function checkPropsObject(value: unknown, site: NameSite, example: string): Problem | undefined {
  return isPlainObject(value) ? undefined : { ...site, value: describeType(value), message: `is ${describeType(value)}, not an object of props`, fix: `give an object, e.g. ${example}` };
}

/** `a word` or `an word`, by its first letter: "an integer", "a string". */
export function withArticle(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}

/** `1 GPU`, `2 GPUs`. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** Whether `value` is an object of props (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What a value is, for messages to JavaScript callers: `a number`, `an array`, `null`, `an object`, `missing`. */
export function describeType(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return withArticle(typeof value);
}

/**
 * Namespaces the cluster owns: nothing of the platform lands there (SECURITY.md rule 21). Every `kube-` name is
 * reserved for Kubernetes as well.
 */
export const CLUSTER_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function clusterOwned(name: string): boolean {
  return CLUSTER_NAMESPACES.includes(name) || name.startsWith('kube-');
}

/**
 * Checks a namespace the platform creates or runs in: a DNS-1123 label that the cluster does not own
 * ({@link CLUSTER_NAMESPACES}, any `kube-` name).
 * @param example a namespace to suggest (itself valid) @default 'cd4ml'
 */
export function checkNamespace(value: unknown, site: NameSite, example = 'cd4ml'): Problem | undefined {
  if (value === undefined || value === null || value === '') return { ...site, value, message: 'is missing', fix: `give the namespace, e.g. "${example}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a namespace name`, fix: `give the name as a string, e.g. "${example}"` };
  if (clusterOwned(value)) {
    return { ...site, value, message: 'is a namespace the cluster owns (default, kube-system, kube-public, kube-node-lease, and every "kube-" name): nothing of the platform may land there', fix: `give it a namespace of its own, e.g. "${example}"` };
  }
  const p = checkDnsLabel(value, site);
  if (!p) return undefined;
  const suggestion = suggestName(value);
  return { ...p, fix: `use a name like "${clusterOwned(suggestion) ? example : suggestion}"` };
}

/**
 * Checks the host name of a server outside the cluster (a database, say): a DNS name or an IPv4 address, without a
 * scheme, port, user or password. A value that may hold a credential is never shown.
 */
export function checkHost(value: unknown, site: NameSite, example = 'db.example.com'): Problem | undefined {
  if (value === undefined || value === null || value === '') return { ...site, value, message: 'is required', fix: `give the server's host name, e.g. "${example}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a host name`, fix: `give the host name as a string, e.g. "${example}"` };
  const what = findCredential(value) ?? (value.includes('@') ? 'a user name or password before "@"' : undefined);
  if (what) {
    return { ...site, value: REDACTED, message: `holds what looks like a credential (${what}), which would be written into the manifests in plain text`, fix: `give only the host name, e.g. "${example}", and keep the user and password in the credentials Secret` };
  }
  if (value.trim() !== value) {
    const trimmed = value.trim();
    return { ...site, value, message: 'has spaces around it', fix: isHostName(trimmed) ? `use "${trimmed}"` : `give a host name like "${example}"` };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let host = '';
    try {
      host = new URL(value).hostname;
    } catch {
      host = '';
    }
    return { ...site, value, message: 'is a URL, not a host name', fix: isHostName(host) ? `give only the host, "${host}" (the port has a prop of its own)` : `give only the host name, e.g. "${example}"` };
  }
  const hostPort = /^(.+):(\d{1,5})$/.exec(value);
  if (hostPort && isHostName(hostPort[1])) return { ...site, value, message: 'includes a port', fix: `give the host "${hostPort[1]}" here and the port ${hostPort[2]} in its own prop` };
  if (isHostName(value)) return undefined;
  if (isIPv6(value.replace(/^\[|\]$/g, ''))) return { ...site, value, message: 'is an IPv6 address, which the URLs built from it cannot hold unbracketed', fix: `give the server's DNS name, e.g. "${example}"` };
  const guess = value.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return { ...site, value, message: 'is not a host name (letters, digits, "-" and ".", each label at most 63 characters) nor an IPv4 address', fix: `use a host name like "${isHostName(guess) ? guess : example}"` };
}

/** A DNS name (case-insensitive, labels of at most 63 characters, 253 in all) or an IPv4 address. */
function isHostName(value: string): boolean {
  if (isIPv4(value)) return true;
  if (value.length === 0 || value.length > 253 || /^[\d.]+$/.test(value)) return false;
  return value.split('.').every((l) => l.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i.test(l));
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
  const m = typeof value === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(value) : null;
  if (m && !/^0\d/.test(m[2])) {
    const bits = Number(m[2]);
    if (isIPv4(m[1]) && bits <= 32) return undefined;
    if (isIPv6(m[1]) && bits <= 128) return undefined;
  }
  return { ...site, value, message: 'is not a CIDR block', fix: 'write it like "10.0.0.0/16" or "0.0.0.0/0"' };
}

/**
 * Checks a Host header pattern for MLflow's `--allowed-hosts`: an exact host, `host:*` (any port), or `*.domain.tld`.
 * Anything that would match every host (`*`, `*:*`, `**`, `*.*`) is refused; a value that may hold a credential is never shown.
 */
export function checkHostPattern(value: string | undefined, site: NameSite): Problem | undefined {
  const host = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
  const ok = new RegExp(`^(${host}(:(\\d{1,5}|\\*))?|\\*\\.${host}\\.${host}(:(\\d{1,5}|\\*))?)$`);
  if (typeof value === 'string' && ok.test(value)) return undefined;
  const fix = 'list the exact host names clients use, e.g. "mlflow.example.com"';
  if (typeof value === 'string' && (findCredential(value) || value.includes('@'))) {
    return { ...site, value: REDACTED, message: 'holds what looks like a credential, and is not a host pattern', fix };
  }
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a host pattern`, fix };
  return { ...site, value, message: 'is not a host, host:port, host:* or *.domain.tld pattern (a broader wildcard would accept any Host header)', fix };
}

/** An OCI image reference: optional registry host[:port], a lowercase path, then a tag and/or digest. */
const IMAGE_REFERENCE = /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Checks an image reference and that it is pinned: a tag other than `latest`, or a digest. */
export function checkImage(value: string | undefined, site: NameSite): Problem | undefined {
  const example = 'registry.example/team/image:1.2.0';
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return { ...site, value, message: 'is missing', fix: `give the image, pinned by tag or digest, e.g. "${example}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not an image reference`, fix: `give the image as a string, pinned by tag or digest, e.g. "${example}"` };
  if (!IMAGE_REFERENCE.test(value)) return { ...site, value, message: 'is not a valid image reference', fix: 'write it like "registry.example/team/image:1.2.0" (lowercase path, no spaces)' };
  const last = value.split('/').pop() ?? '';
  if (!(/:[\w][\w.-]{0,127}(@sha256:[a-f0-9]{64})?$/.test(last) || /@sha256:[a-f0-9]{64}$/.test(value)) || /:latest(@|$)/.test(last)) {
    return { ...site, value, message: 'is not pinned', fix: 'add a version tag (other than latest) or a digest, e.g. "my-image:1.2.0"' };
  }
  return undefined;
}

/**
 * Refuses props a JavaScript caller set to `null`: TypeScript forbids it, and `??` would quietly read it as "use the
 * default". One problem per null prop, at the top level of `props`.
 * @param except required props, which the caller reports as missing itself
 */
export function checkNoNulls(props: unknown, path: string, except: readonly string[] = []): Problem[] {
  if (props === null || typeof props !== 'object') return [];
  return Object.entries(props as Record<string, unknown>)
    .filter(([k, v]) => v === null && !except.includes(k))
    .map(([field]) => ({ path, field, value: null, message: 'is null', fix: 'leave the prop out to get its default, or give a value' }));
}

/**
 * Checks a key of a Secret or ConfigMap as the API server does (IsConfigMapKey): at most 253 letters, digits, "-",
 * "_" and ".", and not "." or ".." or starting with "..". A key becomes a file name when the Secret is mounted.
 */
export function checkSecretKey(value: unknown, site: NameSite): Problem | undefined {
  if (typeof value === 'string' && value.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(value) && value !== '.' && !value.startsWith('..')) return undefined;
  const guess = typeof value === 'string' ? value.replace(/[^-._a-zA-Z0-9]+/g, '_').replace(/^\.+/, '').slice(0, 253) : '';
  return { ...site, value, message: 'is not a Secret key (letters, digits, "-", "_" and ".", not starting with "..")', fix: `use a key like "${guess || 'token'}"` };
}
