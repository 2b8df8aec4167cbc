// What starts a delivery: a Git host's push webhook, and the same push sent from a laptop (`cd4ml ci trigger`).
// Framework-free: the mapping of refs to environments (checked and resolved here, rendered to Argo by
// constructs/delivery/triggers.ts), the push payloads the hosts send, their signatures, and the request to argo-server.
import { execFileSync } from 'child_process';
import { createHmac, randomUUID } from 'crypto';
import { EnvironmentName } from './environments';
import { Problem } from './errors';
import { describeType, isPlainObject, NameSite } from './names';

/** The object name Git uses for "no commit": `before` of a created ref, `after` of a deleted one. */
export const GIT_ZERO_SHA = '0'.repeat(40);

/**
 * A Git host whose push webhooks argo-server verifies. The values are argo-server's webhook client types (the
 * `type:` of an entry in the `argo-workflows-webhook-clients` Secret; argo-workflows v4.0.5
 * server/auth/webhook/interceptor.go `webhookParsers`).
 */
export enum GitHost {
  /** GitHub and GitHub Enterprise Server: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`, event in `X-GitHub-Event`. */
  GITHUB = 'github',
  /** GitLab: the shared secret itself in `X-Gitlab-Token`, event in `X-Gitlab-Event`. */
  GITLAB = 'gitlab',
}

/** One rule of the mapping from pushed refs to the environment they deliver to. */
export interface RefRule {
  /**
   * A full ref (`refs/heads/main`, `refs/tags/v1.0.0`), or a prefix glob: a ref up to a single trailing `*`
   * (`refs/tags/v*`, `refs/heads/*`, `refs/heads/release/*`). Branches and tags only: a push webhook carries nothing else.
   */
  readonly ref: string;
  /** The environment a push of a matching ref delivers to: `dev`, `staging` or `prod`. */
  readonly environment: EnvironmentName;
}

/**
 * The default mapping: `main` to staging, version tags to prod, every other branch to dev. The first rule that
 * matches a ref decides.
 */
export const DEFAULT_REF_RULES: readonly RefRule[] = Object.freeze([
  Object.freeze({ ref: 'refs/heads/main', environment: EnvironmentName.STAGING }),
  Object.freeze({ ref: 'refs/tags/v*', environment: EnvironmentName.PROD }),
  Object.freeze({ ref: 'refs/heads/*', environment: EnvironmentName.DEV }),
]);

/** The environments a delivery goes to (the sandbox is a laptop's, never delivered to). */
export const DELIVERY_ENVIRONMENTS: readonly EnvironmentName[] = [EnvironmentName.DEV, EnvironmentName.STAGING, EnvironmentName.PROD];

/** Characters a ref in a rule may hold: git's (`git check-ref-format`) less quotes, backslashes and the like, so it renders as a plain literal. */
const REF_CHARS = /^[A-Za-z0-9._/+@,=-]+$/;

/** Whether a rule's ref is a prefix glob (`refs/tags/v*`). */
export function isRefGlob(pattern: string): boolean {
  return pattern.endsWith('*');
}

/** The prefix a glob matches (the pattern without its `*`), or the exact ref. */
export function refPrefix(pattern: string): string {
  return isRefGlob(pattern) ? pattern.slice(0, -1) : pattern;
}

/** Whether `ref` is matched by a rule's pattern. */
export function refMatches(pattern: string, ref: string): boolean {
  return isRefGlob(pattern) ? ref.startsWith(refPrefix(pattern)) : ref === pattern;
}

/** Whether every ref `inner` matches is matched by `outer` too (prefix globs nest, or are disjoint). */
export function refCovers(outer: string, inner: string): boolean {
  if (!isRefGlob(outer)) return !isRefGlob(inner) && outer === inner;
  return refPrefix(inner).startsWith(refPrefix(outer));
}

/** The environment the first matching rule gives `ref`, or undefined when no rule matches it. */
export function environmentForRef(rules: readonly RefRule[], ref: string): EnvironmentName | undefined {
  return rules.find((r) => refMatches(r.ref, ref))?.environment;
}

/** What is wrong with one rule's ref pattern, or undefined. */
function refIssue(pattern: unknown): { message: string; fix: string } | undefined {
  const fix = 'give a full ref like "refs/heads/main", or a prefix glob ending in one "*" like "refs/tags/v*"';
  if (typeof pattern !== 'string') return { message: `is ${describeType(pattern)}, not a ref`, fix };
  if (!/^refs\/(heads|tags)\//.test(pattern)) return { message: 'is not under refs/heads/ or refs/tags/ (a push webhook carries only branches and tags)', fix: `write the full ref, e.g. "refs/heads/${pattern.replace(/^\/+/, '') || 'main'}"` };
  const body = refPrefix(pattern);
  if (body.includes('*')) return { message: 'has a "*" before its end (only a trailing "*" is a glob)', fix };
  if (!REF_CHARS.test(body)) return { message: 'holds characters a rule does not take (letters, digits and . _ / + @ , = - only)', fix };
  if (/\.\.|\/\/|@\{|(^|\/)\.|\.lock(\/|$)/.test(body)) return { message: 'is not a valid Git ref name (git check-ref-format)', fix };
  if (!isRefGlob(pattern) && (/[/.]$/.test(body) || /^refs\/(heads|tags)\/$/.test(body))) return { message: 'is not a full ref (it ends with "/" or ".")', fix: `add "*" for every ref under it ("${pattern}*"), or name one ref` };
  if (pattern.length > 200) return { message: `has ${pattern.length} characters, more than 200`, fix: 'shorten it' };
  return undefined;
}

/**
 * Checks a mapping of refs to environments as given (also by a JavaScript caller): a non-empty list of rules, each a
 * ref or prefix glob under refs/heads/ or refs/tags/ with a delivery environment. Since the first matching rule
 * decides, a rule that repeats an earlier one's pattern overlaps it, and one whose every ref an earlier rule already
 * matches is unreachable: both are refused (put the more specific rule first).
 * @returns one problem per fault, each naming the rule (`refs[1].ref`)
 */
export function checkRefRules(rules: unknown, site: NameSite): Problem[] {
  const { path, field } = site;
  const example = '[{ ref: "refs/heads/main", environment: EnvironmentName.STAGING }, { ref: "refs/heads/*", environment: EnvironmentName.DEV }]';
  if (!Array.isArray(rules)) return [{ path, field, value: describeType(rules), message: `is ${describeType(rules)}, not a list of ref rules`, fix: `give a list, e.g. ${example}` }];
  if (rules.length === 0) return [{ path, field, value: [], message: 'is empty, so no push would start a delivery', fix: `give at least one rule, e.g. ${example}, or leave ${field} out for the default mapping` }];
  const problems: Problem[] = [];
  const valid: Array<{ index: number; ref: string }> = [];
  rules.forEach((rule: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(rule)) {
      problems.push({ path, field: at, value: describeType(rule), message: `is ${describeType(rule)}, not a ref rule`, fix: 'give { ref, environment }, e.g. { ref: "refs/tags/v*", environment: EnvironmentName.PROD }' });
      return;
    }
    for (const key of Object.keys(rule)) {
      if (key !== 'ref' && key !== 'environment') problems.push({ path, field: `${at}.${key}`, value: describeType(rule[key]), message: 'is not a field of a ref rule', fix: 'give only ref and environment' });
    }
    const issue = refIssue(rule.ref);
    if (issue) problems.push({ path, field: `${at}.ref`, value: rule.ref, ...issue });
    if (!(DELIVERY_ENVIRONMENTS as unknown[]).includes(rule.environment)) {
      problems.push({ path, field: `${at}.environment`, value: rule.environment, message: 'is not an environment a delivery goes to', fix: `use one of ${DELIVERY_ENVIRONMENTS.map((e) => `EnvironmentName.${e.toUpperCase()} ("${e}")`).join(', ')}` });
    }
    if (issue) return;
    const ref = rule.ref as string;
    const earlier = valid.find((e) => refCovers(e.ref, ref));
    if (earlier && earlier.ref === ref) {
      problems.push({ path, field: `${at}.ref`, value: ref, message: `overlaps ${field}[${earlier.index}], which has the same pattern`, fix: 'give each pattern one rule: drop one of the two' });
    } else if (earlier) {
      problems.push({ path, field: `${at}.ref`, value: ref, message: `is unreachable: ${field}[${earlier.index}] ("${earlier.ref}") comes first and matches every ref it does`, fix: `move it before ${field}[${earlier.index}] (the first matching rule decides), or drop it` });
    }
    valid.push({ index: i, ref });
  });
  return problems;
}

/** A push, as the Git host reports it. */
export interface PushEvent {
  /** The Git host whose payload is built. */
  readonly host: GitHost;
  /** The full ref pushed, e.g. `refs/heads/main` or `refs/tags/v1.2.0`. */
  readonly ref: string;
  /** The commit the ref points at after the push (40 hex characters, or 64 in a SHA-256 repository). */
  readonly revision: string;
  /** The repository's clone URL (`https://github.com/acme/model.git`). */
  readonly repository: string;
}

/** A request argo-server's events endpoint takes as a webhook, ready to send. */
export interface SignedPushRequest {
  /** `<scheme>://<server>/api/v1/events/<namespace>/` (the empty discriminator). */
  readonly url: string;
  /** Always POST (argo-server checks webhooks only on POST). */
  readonly method: 'POST';
  /** The headers the host sends, its signature (GitHub) or token (GitLab) among them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body, byte for byte what was signed. */
  readonly body: string;
}

/** The parts of a clone URL a payload carries: an `https` clone URL without credentials, and `owner/name`. */
export interface RepositoryUrl {
  /** `https://host/owner/name.git`: scp-like and `ssh://` remotes become the host's HTTPS URL; user info is dropped. */
  readonly cloneUrl: string;
  /** `https://host/owner/name`, the page the host links to. */
  readonly webUrl: string;
  /** `owner/name` (GitHub's `full_name`, GitLab's `path_with_namespace`). */
  readonly path: string;
  /** The repository's name, the last part of its path. */
  readonly name: string;
}

/**
 * The repository a remote URL names, as the host's payload reports it: `git@github.com:acme/model.git`,
 * `ssh://git@github.com/acme/model.git` and `https://user:token@github.com/acme/model` all give
 * `https://github.com/acme/model.git`. Credentials in the URL never reach the result.
 * @returns undefined when `remote` is not a URL of a repository on a host
 */
export function repositoryUrl(remote: string): RepositoryUrl | undefined {
  const text = remote.trim();
  let host: string;
  let path: string;
  const scp = /^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!\/\/)([^\s]+)$/.exec(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return undefined;
    }
    if (!['http:', 'https:', 'ssh:', 'git:'].includes(url.protocol) || !url.hostname) return undefined;
    // an https remote keeps its port (a self-hosted server's); ssh and git ports are not the web server's
    host = url.protocol === 'https:' || url.protocol === 'http:' ? url.host : url.hostname;
    path = decodeURIComponent(url.pathname);
  } else if (scp) {
    host = scp[1];
    path = scp[2];
  } else {
    return undefined;
  }
  path = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)+$/.test(path)) return undefined;
  const webUrl = `https://${host}/${path}`;
  return { cloneUrl: `${webUrl}.git`, webUrl, path, name: path.split('/').pop() as string };
}

/**
 * GitHub's signature of a body: `sha256=<hex HMAC-SHA256 of the body with the shared secret>` (`X-Hub-Signature-256`),
 * what argo-server's GitHub webhook parser compares (go-playground/webhooks v6.4.0 github/github.go `Parse`).
 */
export function githubSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * A push payload as the host sends it, with the fields a delivery reads and those the host's webhook parser needs in
 * their types (argo-server decodes it into go-playground/webhooks' `PushPayload`, which must succeed for the request
 * to match its webhook client: server/auth/webhook/github.go, gitlab.go). The laptop does not know what the remote
 * held, so the push is reported as creating the ref at `revision`.
 */
export function pushPayload(event: PushEvent): Record<string, unknown> {
  const repo = repositoryUrl(event.repository);
  const cloneUrl = repo?.cloneUrl ?? event.repository;
  const path = repo?.path ?? event.repository;
  const name = repo?.name ?? event.repository;
  const pusher = 'cd4ml ci trigger';
  if (event.host === GitHost.GITLAB) {
    const tag = event.ref.startsWith('refs/tags/');
    const commit = { id: event.revision, message: '', url: repo ? `${repo.webUrl}/-/commit/${event.revision}` : '', author: { name: pusher, email: '' }, added: [], modified: [], removed: [] };
    return {
      object_kind: tag ? 'tag_push' : 'push',
      event_name: tag ? 'tag_push' : 'push',
      before: GIT_ZERO_SHA,
      after: event.revision,
      ref: event.ref,
      checkout_sha: event.revision,
      user_name: pusher,
      user_username: 'cd4ml',
      project: { name, path_with_namespace: path, web_url: repo?.webUrl ?? '', git_http_url: cloneUrl, http_url: cloneUrl },
      repository: { name, url: cloneUrl, homepage: repo?.webUrl ?? '', git_http_url: cloneUrl },
      commits: [commit],
      total_commits_count: 1,
    };
  }
  return {
    ref: event.ref,
    before: GIT_ZERO_SHA,
    after: event.revision,
    created: true,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: repo ? `${repo.webUrl}/commit/${event.revision}` : '',
    commits: [],
    head_commit: { id: event.revision, tree_id: '', distinct: true, message: '', url: repo ? `${repo.webUrl}/commit/${event.revision}` : '', author: { name: pusher, email: '' }, committer: { name: pusher, email: '' }, added: [], removed: [], modified: [] },
    repository: { name, full_name: path, html_url: repo?.webUrl ?? '', clone_url: cloneUrl, url: repo?.webUrl ?? '' },
    pusher: { name: pusher, email: '' },
  };
}

/** Where argo-server takes events for `namespace`, and whether to verify its certificate. */
export interface EventsEndpoint {
  /** `ARGO_SERVER`: `host:port` (the scheme from `secure`), or a URL with its scheme. */
  readonly server: string;
  /** HTTPS (`ARGO_SECURE`, true unless `false`). @default true */
  readonly secure?: boolean;
  /** The namespace of the delivery's WorkflowEventBindings. */
  readonly namespace: string;
}

/**
 * argo-server's events URL for a namespace: `/api/v1/events/{namespace}/{discriminator}` with the empty discriminator
 * (argo-workflows v4.0.5 pkg/apiclient/event/event.proto, `ReceiveEvent`). The trailing slash is what makes the webhook
 * interceptor look for a webhook client: server/auth/webhook/interceptor.go splits the path after `/api/v1/events/` into
 * namespace and rest, and passes a path without both on unverified.
 */
export function eventsUrl(endpoint: EventsEndpoint): string {
  const server = endpoint.server.trim().replace(/\/+$/, '');
  const base = /^https?:\/\//i.test(server) ? server : `${endpoint.secure === false ? 'http' : 'https'}://${server}`;
  return `${base}/api/v1/events/${encodeURIComponent(endpoint.namespace)}/`;
}

/**
 * Builds and signs a push webhook the way the host sends it: GitHub's `X-GitHub-Event: push` with
 * `X-Hub-Signature-256`, GitLab's `X-Gitlab-Event: Push Hook` (or `Tag Push Hook`) with `X-Gitlab-Token`. Pure: no
 * network, no Git; `deliveryId` is the host's delivery GUID (random when not given).
 */
export function buildPushRequest(event: PushEvent, endpoint: EventsEndpoint, secret: string, deliveryId: string = randomUUID()): SignedPushRequest {
  const body = JSON.stringify(pushPayload(event));
  const common = { 'Content-Type': 'application/json', 'User-Agent': 'cd4ml-ci-trigger' };
  const headers: Record<string, string> = event.host === GitHost.GITLAB
    ? { ...common, 'X-Gitlab-Event': event.ref.startsWith('refs/tags/') ? 'Tag Push Hook' : 'Push Hook', 'X-Gitlab-Event-UUID': deliveryId, 'X-Gitlab-Token': secret }
    : { ...common, 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': deliveryId, 'X-Hub-Signature-256': githubSignature(body, secret) };
  return { url: eventsUrl(endpoint), method: 'POST', headers, body };
}

/** The current commit of a Git checkout: its revision, the branch (or else the tag) it is on, and its origin. */
export interface CheckoutFacts {
  /** `git rev-parse HEAD`. */
  readonly revision?: string;
  /** `refs/heads/<branch>`, else `refs/tags/<tag>` of a tag pointing at HEAD, else undefined (a detached HEAD). */
  readonly ref?: string;
  /** `git remote get-url origin`. */
  readonly origin?: string;
}

/** Reads what a push of the checkout in `dir` would report; a question Git cannot answer is left undefined. */
export function checkoutFacts(dir: string): CheckoutFacts {
  const git = (...args: string[]): string | undefined => {
    try {
      const out = execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim();
      return out === '' ? undefined : out;
    } catch {
      return undefined;
    }
  };
  const revision = git('rev-parse', '--verify', 'HEAD^{commit}');
  const branch = git('symbolic-ref', '-q', 'HEAD');
  const tag = branch ? undefined : git('tag', '--points-at', 'HEAD', '--sort=-version:refname')?.split('\n')[0];
  return { revision, ref: branch ?? (tag ? `refs/tags/${tag}` : undefined), origin: git('remote', 'get-url', 'origin') };
}

/** What argo-server answered. */
export interface EventsAnswer {
  /** The HTTP status. */
  readonly status: number;
  /** The body, as sent. */
  readonly text: string;
}

/**
 * Sends a request to argo-server (`http:` or `https:`), verifying its certificate unless `insecureSkipVerify`
 * (`ARGO_INSECURE_SKIP_VERIFY=true`, for argo-server's own self-signed one behind a port-forward).
 */
export async function sendPushRequest(request: SignedPushRequest, o: { readonly insecureSkipVerify?: boolean; readonly timeoutMs?: number } = {}): Promise<EventsAnswer> {
  const url = new URL(request.url);
  const client = url.protocol === 'https:' ? await import('https') : await import('http');
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: request.method,
      headers: { ...request.headers, 'Content-Length': String(Buffer.byteLength(request.body)) },
      timeout: o.timeoutMs ?? 30000,
      ...(url.protocol === 'https:' ? { rejectUnauthorized: o.insecureSkipVerify !== true } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${Math.round((o.timeoutMs ?? 30000) / 1000)} s`)));
    req.on('error', reject);
    req.end(request.body);
  });
}
