/**
 * A problem as lib/errors.ts defines it (`Problem`), restated here so the error module can import this one without
 * a circle.
 */
interface CredentialProblem {
  readonly path: string;
  readonly field: string;
  readonly value?: unknown;
  readonly message: string;
  readonly fix: string;
}

/** What a value that may hold a credential is shown as in a problem. */
export const REDACTED = '(redacted)';

/** The shapes of credentials we refuse where they would be written in plain text, each with what it is called. */
const CREDENTIAL_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  // scheme://user:password@host (a user without a password, like ssh://git@host, is not a credential)
  [/[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:[^\s/?#@]*@/i, 'a URL with a user and password'],
  [/-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/, 'a private key'],
  [/(^|[^A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}([^A-Z0-9]|$)/, 'an AWS access key id'],
  [/(^|[^A-Za-z0-9_])(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}/, 'a GitHub token'],
  [/github_pat_[A-Za-z0-9_]{22,}/, 'a GitHub token'],
  [/glpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/xox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/(^|[^A-Za-z0-9_])hf_[A-Za-z0-9]{30,}/, 'a Hugging Face token'],
  [/(^|[^A-Za-z0-9_])sk-(proj-|ant-)?[A-Za-z0-9_-]{20,}/, 'an API secret key'],
  [/(^|[^A-Za-z0-9_])(sk|rk)_live_[A-Za-z0-9]{16,}/, 'a Stripe key'],
  [/AIza[0-9A-Za-z_-]{35}/, 'a Google API key'],
  [/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, 'a JSON Web Token'],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,}/i, 'an Authorization header value'],
];

/**
 * `password=...`, `token: ...`, `--api-key=...`: a credential-named key with a value. A reference to where the value
 * comes from (`$(VAR)`, `${VAR}`, `$VAR`, an Argo `{{...}}` expression) or an empty value is not a credential.
 */
const PAIR = /(^|[^A-Za-z0-9])(password|passwd|pwd|passphrase|secret|client[_-]?secret|secret[_-]?key|access[_-]?key|private[_-]?key|token|access[_-]?token|auth[_-]?token|api[_-]?key|apikey)\s*[=:]\s*("[^"]*"|'[^']*'|[^\s&;,]*)/gi;

/** A flag whose next argument is a credential: `--password hunter2`. */
const CREDENTIAL_FLAG = /^--?(password|passwd|pwd|passphrase|secret|client[_-]?secret|secret[_-]?key|access[_-]?key|private[_-]?key|token|access[_-]?token|auth[_-]?token|api[_-]?key|apikey)$/i;

function isReference(value: string): boolean {
  const v = value.replace(/^["']|["']$/g, '');
  // a number, a switch or a file path is a setting (`max_token=512`, `--token-file=/run/secrets/t`), not a credential
  if (/^(\d+|true|false|none|null)$/i.test(v) || v.startsWith('/')) return true;
  return v === '' || /^\$\(?\{?[A-Za-z_][A-Za-z0-9_]*\}?\)?$/.test(v) || /^\{\{.*\}\}$/.test(v) || /^\$\{\{.*\}\}$/.test(v);
}

/**
 * What kind of credential `value` looks like, or undefined when it looks like none. Used wherever a value would be
 * written into the manifests in plain text (a host, a step's env value or argument, a parameter default).
 */
export function findCredential(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  for (const [shape, what] of CREDENTIAL_SHAPES) if (shape.test(value)) return what;
  for (const m of value.matchAll(PAIR)) if (!isReference(m[3])) return `a ${m[2].toLowerCase()}=... pair`;
  return undefined;
}

/** Whether `flag` (an argument like `--password`) announces that the next argument is a credential. */
export function isCredentialFlag(flag: unknown): boolean {
  return typeof flag === 'string' && CREDENTIAL_FLAG.test(flag);
}

/** Whether `value` or any string inside it (arrays and plain objects, a few levels deep) looks like a credential. */
export function holdsCredential(value: unknown, depth = 4): boolean {
  if (typeof value === 'string') return findCredential(value) !== undefined;
  if (depth <= 0 || value === null || typeof value !== 'object') return false;
  const items = Array.isArray(value) ? value : Object.entries(value as Record<string, unknown>).flat();
  return items.some((v) => holdsCredential(v, depth - 1));
}

/** Where a value sits, for error messages. */
interface Site {
  readonly path: string;
  readonly field: string;
}

/**
 * Refuses a value that looks like a credential where it would be written in plain text. The problem never shows the
 * value; the fix says to pass it by Secret reference.
 * @param fix how to pass it by reference here @default - read it from a Secret
 */
export function checkNoCredential(value: unknown, site: Site, fix = 'read it from a Secret by reference (an env var with valueFrom.secretKeyRef), never as a literal'): CredentialProblem | undefined {
  const what = findCredential(value);
  if (what === undefined) return undefined;
  return { ...site, value: REDACTED, message: `looks like a credential (${what}), which would be written into the manifests in plain text`, fix };
}
