import { execFileSync } from 'child_process';
import { createHmac } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer, IncomingHttpHeaders, Server } from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { EnvironmentName } from '../../lib';
import {
  buildPushRequest, checkoutFacts, checkRefRules, DEFAULT_REF_RULES, environmentForRef, eventsUrl, GIT_ZERO_SHA, githubSignature, GitHost, pushPayload, refCovers, repositoryUrl,
} from '../../lib/ci-trigger';
import { main } from '../../lib/cli';

const REV = '0123456789abcdef0123456789abcdef01234567';
const SECRET = 'webhook-secret-9f2c1e7d';
const push = { ref: 'refs/heads/main', revision: REV, repository: 'https://github.com/acme/churn-model.git' };
const endpoint = { server: 'localhost:2746', namespace: 'cd4ml-ci' };
/** An HMAC computed here, independently of lib/ci-trigger.ts, as GitHub computes it. */
const hmac = (body: string, secret: string) => `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex')}`;

describe('the mapping of refs to environments', () => {
  test('by default main goes to staging, v* tags to prod, every other branch to dev; other refs nowhere', () => {
    expect(environmentForRef(DEFAULT_REF_RULES, 'refs/heads/main')).toBe(EnvironmentName.STAGING);
    expect(environmentForRef(DEFAULT_REF_RULES, 'refs/tags/v1.2.0')).toBe(EnvironmentName.PROD);
    expect(environmentForRef(DEFAULT_REF_RULES, 'refs/heads/feature/x')).toBe(EnvironmentName.DEV);
    expect(environmentForRef(DEFAULT_REF_RULES, 'refs/heads/main-old')).toBe(EnvironmentName.DEV);
    expect(environmentForRef(DEFAULT_REF_RULES, 'refs/tags/release-1')).toBeUndefined();
    expect(checkRefRules(DEFAULT_REF_RULES, { path: 'x', field: 'refs' })).toEqual([]);
  });

  test('prefix globs cover what they prefix; an exact ref covers only itself', () => {
    expect(refCovers('refs/heads/*', 'refs/heads/main')).toBe(true);
    expect(refCovers('refs/heads/*', 'refs/heads/release/*')).toBe(true);
    expect(refCovers('refs/heads/release/*', 'refs/heads/*')).toBe(false);
    expect(refCovers('refs/tags/v*', 'refs/heads/*')).toBe(false);
    expect(refCovers('refs/heads/main', 'refs/heads/main')).toBe(true);
    expect(refCovers('refs/heads/main', 'refs/heads/main*')).toBe(false);
  });
});

describe('a push as the Git host sends it', () => {
  test('GitHub: a push event of the commit, with the fields argo-server\'s parser needs in their types', () => {
    const p = pushPayload({ host: GitHost.GITHUB, ...push });
    expect(p).toMatchObject({
      ref: 'refs/heads/main', after: REV, before: GIT_ZERO_SHA, created: true, deleted: false, forced: false, base_ref: null,
      head_commit: { id: REV }, repository: { name: 'churn-model', full_name: 'acme/churn-model', clone_url: 'https://github.com/acme/churn-model.git', html_url: 'https://github.com/acme/churn-model' },
      commits: [],
    });
    // go-playground/webhooks' PushPayload: booleans, and no string where it wants a number or a time
    expect(JSON.stringify(p)).not.toMatch(/"(created_at|pushed_at|updated_at|id)":\s*""/);
  });

  test('GitLab: a Push Hook for a branch, a Tag Push Hook for a tag, the commit as checkout_sha and the project\'s clone URL', () => {
    const branch = pushPayload({ host: GitHost.GITLAB, ...push, repository: 'git@gitlab.com:ml/team/churn-model.git' });
    expect(branch).toMatchObject({
      object_kind: 'push', ref: 'refs/heads/main', after: REV, checkout_sha: REV, before: GIT_ZERO_SHA,
      project: { name: 'churn-model', path_with_namespace: 'ml/team/churn-model', git_http_url: 'https://gitlab.com/ml/team/churn-model.git' },
    });
    expect(pushPayload({ host: GitHost.GITLAB, ...push, ref: 'refs/tags/v1.2.0' })).toMatchObject({ object_kind: 'tag_push', event_name: 'tag_push' });
  });

  test('GitHub\'s signature equals an HMAC-SHA256 of the exact body computed independently', () => {
    const r = buildPushRequest({ host: GitHost.GITHUB, ...push }, endpoint, SECRET, 'delivery-1');
    expect(r.headers).toEqual({
      'Content-Type': 'application/json', 'User-Agent': 'cd4ml-ci-trigger', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'delivery-1', 'X-Hub-Signature-256': hmac(r.body, SECRET),
    });
    expect(JSON.parse(r.body)).toEqual(pushPayload({ host: GitHost.GITHUB, ...push }));
    expect(githubSignature(r.body, SECRET)).toBe(hmac(r.body, SECRET));
    // a different body or secret gives another signature
    expect(githubSignature(`${r.body} `, SECRET)).not.toBe(r.headers['X-Hub-Signature-256']);
    expect(githubSignature(r.body, `${SECRET}x`)).not.toBe(r.headers['X-Hub-Signature-256']);
    // the secret itself is not in the request
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(r).toMatchObject({ method: 'POST', url: 'https://localhost:2746/api/v1/events/cd4ml-ci/' });
  });

  test('GitLab sends the secret itself as X-Gitlab-Token, and the event in X-Gitlab-Event', () => {
    const r = buildPushRequest({ host: GitHost.GITLAB, ...push, ref: 'refs/tags/v1.2.0' }, endpoint, SECRET, 'delivery-2');
    expect(r.headers).toMatchObject({ 'X-Gitlab-Event': 'Tag Push Hook', 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': 'delivery-2' });
    expect(r.headers['X-Hub-Signature-256']).toBeUndefined();
    expect(r.body).not.toContain(SECRET);
  });

  test('argo-server\'s events URL: the namespace and an empty discriminator (the trailing slash), over HTTPS unless ARGO_SECURE is false', () => {
    expect(eventsUrl({ server: 'localhost:2746', namespace: 'cd4ml-ci' })).toBe('https://localhost:2746/api/v1/events/cd4ml-ci/');
    expect(eventsUrl({ server: 'localhost:2746', secure: false, namespace: 'ci' })).toBe('http://localhost:2746/api/v1/events/ci/');
    expect(eventsUrl({ server: 'https://argo.example.com/', namespace: 'ci' })).toBe('https://argo.example.com/api/v1/events/ci/');
  });

  test('a remote URL becomes the host\'s HTTPS clone URL, never with the credentials it may hold', () => {
    const https = { cloneUrl: 'https://github.com/acme/churn-model.git', webUrl: 'https://github.com/acme/churn-model', path: 'acme/churn-model', name: 'churn-model' };
    for (const remote of ['git@github.com:acme/churn-model.git', 'ssh://git@github.com/acme/churn-model.git', 'https://github.com/acme/churn-model', 'https://x-access-token:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/acme/churn-model.git']) {
      expect(repositoryUrl(remote)).toEqual(https);
    }
    expect(repositoryUrl('https://git.example.com:8443/ml/churn.git')?.cloneUrl).toBe('https://git.example.com:8443/ml/churn.git');
    for (const bad of ['/srv/git/churn.git', 'churn', 'ftp://example.com/a/b', 'https://github.com/']) expect(repositoryUrl(bad)).toBeUndefined();
  });
});

describe('cd4ml ci trigger', () => {
  let dir: string;
  let server: Server;
  let received: Array<{ url?: string; method?: string; headers: IncomingHttpHeaders; body: string }>;
  let answer: { status: number; body: string };
  const saved = { ...process.env };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        received.push({ url: req.url, method: req.method, headers: req.headers, body });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cd4ml-ci-'));
    git('init', '-q', '-b', 'main');
    writeFileSync(join(dir, 'README'), 'x');
    git('add', 'README');
    git('commit', '-q', '-m', 'first');
    git('remote', 'add', 'origin', 'git@github.com:acme/churn-model.git');
    received = [];
    answer = { status: 200, body: '{}' };
    process.env.ARGO_SERVER = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.ARGO_SECURE = 'false';
    process.env.CD4ML_WEBHOOK_SECRET = SECRET;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    process.env = { ...saved };
  });

  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['ci', 'trigger', '--dir', dir, ...args], (l) => out.push(l), (l) => err.push(l));
    return { code, out, err, all: [...out, ...err].join('\n') };
  };

  test('reads the checkout, posts the push GitHub would send, signed, and prints what it posted and the answer', async () => {
    const head = git('rev-parse', 'HEAD');
    expect(checkoutFacts(dir)).toEqual({ revision: head, ref: 'refs/heads/main', origin: 'git@github.com:acme/churn-model.git' });
    const r = await run();
    expect(r.code).toBe(0);
    expect(received).toHaveLength(1);
    const [req] = received;
    expect({ method: req.method, url: req.url }).toEqual({ method: 'POST', url: '/api/v1/events/cd4ml-ci/' });
    expect(req.headers['x-github-event']).toBe('push');
    expect(req.headers['x-hub-signature-256']).toBe(hmac(req.body, SECRET));
    expect(JSON.parse(req.body)).toMatchObject({ ref: 'refs/heads/main', after: head, head_commit: { id: head }, repository: { clone_url: 'https://github.com/acme/churn-model.git' } });
    expect(r.out).toEqual(expect.arrayContaining([`  ref:        refs/heads/main`, `  revision:   ${head}`, '  repository: https://github.com/acme/churn-model.git', 'argo-server answered 200: {}']));
    expect(r.all).toMatch(/delivers to staging/);
    expect(r.all).not.toContain(SECRET);
  });

  test('a tag checked out goes as its tag ref, to prod; --ref, --revision and --repository override Git', async () => {
    git('tag', '-a', 'v1.2.0', '-m', 'release');
    git('checkout', '-q', 'v1.2.0');
    const tagged = await run();
    expect(JSON.parse(received[0].body).ref).toBe('refs/tags/v1.2.0');
    expect(tagged.all).toMatch(/delivers to prod/);
    const other = 'f'.repeat(40);
    const r = await run('--ref', 'refs/heads/feature/x', '--revision', other, '--repository=https://github.com/acme/other.git');
    expect(r.code).toBe(0);
    expect(JSON.parse(received[1].body)).toMatchObject({ ref: 'refs/heads/feature/x', after: other, repository: { full_name: 'acme/other' } });
    expect(r.all).toMatch(/delivers to dev/);
  });

  test('--host gitlab sends GitLab\'s Push Hook with its token header; nothing printed holds the secret', async () => {
    const r = await run('--host', 'gitlab', '--namespace', 'delivery');
    expect(r.code).toBe(0);
    expect(received[0]).toMatchObject({ url: '/api/v1/events/delivery/', headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET } });
    expect(r.all).not.toContain(SECRET);
  });

  test('exits 1 on an answer that is not 2xx, with the fix, and hides the secret should the answer echo it', async () => {
    answer = { status: 401, body: `{"code":16,"message":"token not valid ${SECRET}"}` };
    const r = await run();
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/refused the push \(401\)\. Fix: the request matched no webhook client/);
    expect(r.all).not.toContain(SECRET);
    expect(r.out).toContain('argo-server answered 401: {"code":16,"message":"token not valid (redacted)"}');
    answer = { status: 500, body: '{"message":"already exists"}' };
    expect((await run()).code).toBe(1);
  });

  test('never takes the secret from the command line, and never echoes it', async () => {
    for (const flag of ['--secret', '--token', `--secret=${SECRET}`]) {
      const r = await run(...(flag.includes('=') ? [flag] : [flag, SECRET]));
      expect({ flag, code: r.code }).toEqual({ flag, code: 2 });
      expect(r.err[0]).toMatch(/is not taken: the secret is read from CD4ML_WEBHOOK_SECRET only/);
      expect(r.all).not.toContain(SECRET);
    }
    expect(received).toEqual([]);
  });

  test('usage errors name what is missing and the fix: the secret, the server, a ref, a revision, a host', async () => {
    delete process.env.CD4ML_WEBHOOK_SECRET;
    expect((await run()).err[0]).toMatch(/CD4ML_WEBHOOK_SECRET is not set\. Fix: export CD4ML_WEBHOOK_SECRET/);
    process.env.CD4ML_WEBHOOK_SECRET = SECRET;
    delete process.env.ARGO_SERVER;
    expect((await run()).err[0]).toMatch(/ARGO_SERVER is not set\. Fix: .*cd4ml env/);
    process.env.ARGO_SERVER = '127.0.0.1:1';
    git('checkout', '-q', '--detach');
    expect((await run()).err[0]).toMatch(/HEAD is on no branch and no tag points at it\. Fix: give --ref refs\/heads\/<branch>/);
    expect((await run('--ref', 'main')).err[0]).toMatch(/--ref "main" is not a full branch or tag ref/);
    expect((await run('--ref', 'refs/heads/main', '--revision', 'HEAD')).err[0]).toMatch(/--revision "HEAD" is not a full commit name/);
    expect((await run('--host', 'bitbucket')).err[0]).toMatch(/--host "bitbucket" is not a Git host cd4ml signs for/);
    expect((await run('trigger-now')).err[0]).toMatch(/unexpected argument "trigger-now"/);
    expect(await main(['ci'], () => undefined, () => undefined)).toBe(2);
    expect(received).toEqual([]);
  });

  test('exits 1 with the fix when argo-server does not answer', async () => {
    process.env.ARGO_SERVER = '127.0.0.1:1';
    const r = await run();
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/no answer from http:\/\/127\.0\.0\.1:1\/api\/v1\/events\/cd4ml-ci\/: .*Fix: reach argo-server/);
  });
});
