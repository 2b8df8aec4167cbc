import { randomBytes } from 'crypto';
import { Platform } from '../../constructs';
import { DELIVERY_PARAMETERS, DeliveryTriggers, WEBHOOK_CLIENTS_SECRET } from '../../constructs/delivery/triggers';
import { EnvironmentName } from '../../lib';
import { buildPushRequest, GIT_ZERO_SHA, githubSignature, GitHost, pushPayload, sendPushRequest, SignedPushRequest } from '../../lib/ci-trigger';
import { apply, KubeObject, list } from './support/apply';
import { startContainer } from './support/local-pod';
import { waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { can, podTemplate } from './support/workloads';

// A Git host's push webhooks through the real argo-server (built from v4.0.5, run as its Deployment would, in client
// auth mode, with the Argo instance ID): argo-server checks the GitHub signature against the webhook clients Secret, acts
// as the webhook client's service account with the RBAC we render, and the bindings we render pick the environment from
// the ref and name the run after the commit. The requests are built and signed by lib/ci-trigger.ts, as
// `cd4ml ci trigger` sends them; what is asserted is what argo-server answered and the Workflows it created.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const WF = 'argoproj.io/v1alpha1';
const INSTANCE = 'cd4ml-tier';
const REPOSITORY = 'https://github.com/acme/churn-model.git';
const sha = () => randomBytes(20).toString('hex');

describe('push webhooks start the delivery through the real argo-server', () => {
  let triggers!: DeliveryTriggers;
  let gitlab!: DeliveryTriggers;
  // the platform with no example pipeline, and the delivery triggers beside it: GitHub's, and GitLab's in a CI
  // namespace of its own
  const sb = new Sandbox(EnvironmentName.SANDBOX, (scope, runner) => {
    triggers = new DeliveryTriggers(scope, 'delivery', { platform: runner.node.scope as Platform });
    gitlab = new DeliveryTriggers(scope, 'delivery-gitlab', { platform: runner.node.scope as Platform, gitHost: GitHost.GITLAB, namespace: 'cd4ml-ci-gitlab', repository: 'ml/churn-model' });
  }, { workflowInstanceId: INSTANCE, pipelines: [] });
  const ci = triggers.namespace;
  const argoNs = sb.find('Deployment', 'argo-server').metadata.namespace!;
  const secret = randomBytes(24).toString('base64url');
  let server: Awaited<ReturnType<typeof startContainer>>;
  let controller: Awaited<ReturnType<typeof startContainer>>;
  let base: string;

  /** A push as GitHub sends it, built and signed by lib/ci-trigger.ts. */
  const push = (ref: string, revision: string, signWith = secret): SignedPushRequest => buildPushRequest({ host: GitHost.GITHUB, ref, revision, repository: REPOSITORY }, { server: base, namespace: ci }, signWith);
  const send = (r: SignedPushRequest) => sendPushRequest(r, { insecureSkipVerify: true });
  const workflows = async (): Promise<Obj[]> => list<Obj>(sb.cp, WF, 'Workflow', ci);
  const params = (wf: Obj): Record<string, string> => Object.fromEntries((wf.spec.arguments.parameters as Obj[]).map((p) => [p.name, p.value]));

  beforeAll(async () => {
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    await sb.startPostgres(); // argo-server opens the workflow archive as itself before it serves
    // What the delivery (built later) brings: a stand-in WorkflowTemplate with its four parameters; the real one does
    // not exist yet. It carries the instance ID, as argo-server submits only such templates (dispatch/operation.go).
    // And what the operator creates by hand: the webhook clients Secret with the shared secret.
    await apply(sb.cp, [triggers, gitlab].flatMap((t) => [
      {
        apiVersion: WF, kind: 'WorkflowTemplate', metadata: { name: t.templateName, namespace: t.namespace, labels: { 'workflows.argoproj.io/controller-instanceid': INSTANCE } },
        spec: {
          entrypoint: 'deliver',
          arguments: { parameters: DELIVERY_PARAMETERS.map((name) => ({ name })) },
          templates: [{ name: 'deliver', container: { image: 'busybox:1.37', command: ['true'] } }],
        },
      } as unknown as KubeObject,
      {
        apiVersion: 'v1', kind: 'Secret', metadata: { name: WEBHOOK_CLIENTS_SECRET, namespace: t.namespace },
        stringData: { [t.serviceAccountName]: `type: ${t.gitHost}\nsecret: ${secret}\n` },
      } as unknown as KubeObject,
    ]));
    // the workflow controller as its Deployment runs it: namespaced to the pipeline namespace, with the instance ID
    controller = sb.track(await startContainer({ cp: sb.cp, namespace: argoNs, pod: podTemplate(sb.find('Deployment', 'workflow-controller')).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo] }));
    const deployment = sb.find('Deployment', 'argo-server');
    server = sb.track(await startContainer({ cp: sb.cp, namespace: argoNs, pod: podTemplate(deployment).spec, container: 'argo-server', hosts: sb.hosts(), path: [tools().argo], entrypoint: ['argo'] }));
    const port = ((deployment.spec as Obj).template.spec.containers[0].ports as Obj[]).find((p) => p.name === 'web')!.containerPort;
    base = `https://127.0.0.1:${port}`;
    // its gateway answers before its gRPC client connects: wait until a signed push that no rule maps (a tag that is no
    // version) is taken, which also proves the signature check and the client's token work
    await waitFor('argo-server to take a signed push', async () => ((await send(push('refs/tags/readiness', sha())).catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc: server, intervalMs: 1000 });
    expect(await workflows()).toEqual([]);
  });
  afterAll(async () => { await sb.stop(); });

  // every test starts from CI namespaces without runs (the templates, Secrets and bindings stay)
  beforeEach(async () => {
    for (const ns of [ci, gitlab.namespace]) {
      const r = await sb.cp.api<Obj>('DELETE', `/apis/${WF}/namespaces/${ns}/workflows`);
      if (r.status >= 300) throw new Error(`deleting the Workflows of ${ns}: ${r.status} ${JSON.stringify(r.body)}`);
      await waitFor(`the Workflows of ${ns} to be gone`, async () => ((await list<Obj>(sb.cp, WF, 'Workflow', ns)).length === 0 ? true : undefined), 30000);
    }
  });

  test.each([
    ['refs/heads/main', 'staging', 'cd4ml-delivery-branch-main'],
    ['refs/tags/v1.2.0', 'prod', 'cd4ml-delivery-tag-v-any'],
    ['refs/heads/feature/churn-v2', 'dev', 'cd4ml-delivery-branch-any'],
  ])('a signed push of %s starts exactly one delivery, to %s, of that commit', async (ref, environment, binding) => {
    const revision = sha();
    const r = await send(push(ref, revision));
    expect({ status: r.status, text: r.text, log: r.status === 200 ? '' : server.tail(30) }).toEqual({ status: 200, text: '{}', log: '' });
    const runs = await workflows();
    expect(runs.map((w) => w.metadata.name)).toEqual([`cd4ml-delivery-${environment}-${revision}`]);
    const [wf] = runs;
    expect(wf.spec.workflowTemplateRef).toEqual({ name: 'cd4ml-delivery' });
    expect(params(wf)).toEqual({ environment, revision, repository: REPOSITORY, ref });
    // argo-server labels what it submits with the instance ID and the binding; the creator is the webhook client
    expect(wf.metadata.labels).toMatchObject({ 'workflows.argoproj.io/controller-instanceid': INSTANCE, 'workflows.argoproj.io/workflow-event-binding': binding, 'cd4ml.io/trigger': 'push', 'cd4ml.io/environment': environment });
    expect(wf.metadata.labels['workflows.argoproj.io/creator']).toMatch(/github\.com/);
    expect(wf.metadata.annotations).toMatchObject({ 'cd4ml.io/revision': revision, 'cd4ml.io/ref': ref });
    // nothing reached the pipeline namespace
    expect(await list<Obj>(sb.cp, WF, 'Workflow', sb.find('LimitRange', 'pipelines').metadata.namespace!)).toEqual([]);
    // The platform's controller manages the pipeline namespace only (--managed-namespace), so it leaves the run alone: a
    // controller that manages the CI namespace is the platform's part, still to come. When it comes, this expectation
    // turns into the delivery running.
    await new Promise((res) => setTimeout(res, 1000));
    expect({ controller: controller.exited() ? controller.tail(20) : 'running', phase: (await workflows())[0].status?.phase ?? 'untouched' }).toEqual({ controller: 'running', phase: 'untouched' });
  });

  test('an unsigned, wrongly signed or altered push is refused and creates nothing', async () => {
    const good = push('refs/heads/main', sha());
    const unsigned = { ...good, headers: Object.fromEntries(Object.entries(good.headers).filter(([k]) => k !== 'X-Hub-Signature-256')) };
    const wrong = push('refs/heads/main', sha(), `${secret}-not`);
    // a body changed after signing
    const altered = { ...good, body: good.body.replace(/"refs\/heads\/main"/, '"refs/tags/v9.9.9"') };
    for (const [what, r] of [['unsigned', unsigned], ['wrongly signed', wrong], ['altered', altered]] as const) {
      const answer = await send(r);
      // no webhook client matches, so no token is put on the request, and client auth mode refuses it
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
    }
    expect(await workflows()).toEqual([]);
  });

  test('a signed ping (GitHub sends one when the webhook is added) is taken and starts nothing', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1, hook: { type: 'Repository', id: 1, name: 'web', active: true, events: ['push'], config: { content_type: 'json', url: `${base}${triggers.path}` }, created_at: '2026-12-04T18:00:00Z', updated_at: '2026-12-04T18:00:00Z' }, repository: { id: 1, name: 'churn-model', full_name: 'acme/churn-model' } });
    const r = push('refs/heads/main', sha());
    const answer = await send({ ...r, body, headers: { ...r.headers, 'X-GitHub-Event': 'ping', 'X-Hub-Signature-256': githubSignature(body, secret) } });
    expect({ status: answer.status, text: answer.text }).toEqual({ status: 200, text: '{}' });
    expect(await workflows()).toEqual([]);
  });

  test('a push that deletes a branch is taken and starts nothing', async () => {
    for (const ref of ['refs/heads/main', 'refs/heads/feature/old']) {
      // as GitHub reports a deletion: deleted, `after` all zeros, no head commit
      const body = JSON.stringify({ ...pushPayload({ host: GitHost.GITHUB, ref, revision: sha(), repository: REPOSITORY }), before: sha(), after: GIT_ZERO_SHA, created: false, deleted: true, head_commit: null });
      const r = push(ref, GIT_ZERO_SHA);
      const answer = await send({ ...r, body, headers: { ...r.headers, 'X-Hub-Signature-256': githubSignature(body, secret) } });
      expect({ ref, status: answer.status, text: answer.text }).toEqual({ ref, status: 200, text: '{}' });
    }
    expect(await workflows()).toEqual([]);
  });

  test('the same delivery posted twice starts one run: the second submission finds it and is recorded as refused', async () => {
    const revision = sha();
    const request = push('refs/heads/main', revision);
    expect((await send(request)).status).toBe(200);
    const again = await send(request);
    // the run's name comes from the commit and environment, so argo-server's create fails with AlreadyExists; it
    // answers 500 and records why on the binding
    expect(again.status).toBe(500);
    expect((await workflows()).map((w) => w.metadata.name)).toEqual([`cd4ml-delivery-staging-${revision}`]);
    const events = await waitFor('the binding\'s Warning Event', async () => {
      const e = (await list<Obj>(sb.cp, 'v1', 'Event', ci)).filter((x) => x.reason === 'WorkflowEventBindingError' && String(x.message).includes(revision));
      return e.length ? e : undefined;
    }, 30000);
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'WorkflowEventBinding', name: 'cd4ml-delivery-branch-main' } });
    expect(events[0].message).toMatch(/already exists/);
  });

  test('GitLab: a tag push with the token starts one delivery of the tagged commit; a wrong token is refused', async () => {
    const revision = sha();
    const request = (token: string) => buildPushRequest({ host: GitHost.GITLAB, ref: 'refs/tags/v2.0.0', revision, repository: 'git@gitlab.com:ml/churn-model.git' }, { server: base, namespace: gitlab.namespace }, token);
    expect((await send(request(`${secret}-not`))).status).toBe(401);
    expect(await list<Obj>(sb.cp, WF, 'Workflow', gitlab.namespace)).toEqual([]);
    const r = await send(request(secret));
    expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: '{}' });
    const runs = await list<Obj>(sb.cp, WF, 'Workflow', gitlab.namespace);
    expect(runs.map((w) => w.metadata.name)).toEqual([`cd4ml-delivery-prod-${revision}`]);
    expect(params(runs[0])).toEqual({ environment: 'prod', revision, repository: 'https://gitlab.com/ml/churn-model.git', ref: 'refs/tags/v2.0.0' });
  });

  test('the real authorizer gives the webhook client and argo-server what the events endpoint needs in the CI namespace, no more', async () => {
    const client = `system:serviceaccount:${ci}:${triggers.serviceAccountName}`;
    const argoServer = `system:serviceaccount:${argoNs}:${podTemplate(sb.find('Deployment', 'argo-server')).spec.serviceAccountName}`;
    const group = 'argoproj.io';
    const asked = async (user: string, a: Parameters<typeof can>[2]) => ({ user, ...a, allowed: await can(sb.cp, user, { namespace: ci, ...a }) });
    const granted = await Promise.all([
      asked(client, { verb: 'list', resource: 'workfloweventbindings', group }),
      asked(client, { verb: 'get', resource: 'workflowtemplates', group, name: 'cd4ml-delivery' }),
      asked(client, { verb: 'create', resource: 'workflows', group }),
      asked(argoServer, { verb: 'get', resource: 'secrets', name: WEBHOOK_CLIENTS_SECRET }),
      asked(argoServer, { verb: 'get', resource: 'serviceaccounts', name: triggers.serviceAccountName }),
      asked(argoServer, { verb: 'get', resource: 'secrets', name: triggers.tokenSecretName }),
      asked(argoServer, { verb: 'create', resource: 'events' }),
    ]);
    expect(granted.filter((a) => !a.allowed)).toEqual([]);
    const refused = await Promise.all([
      asked(client, { verb: 'get', resource: 'workflowtemplates', group, name: 'another-template' }),
      asked(client, { verb: 'update', resource: 'workflows', group, name: 'x' }),
      asked(client, { verb: 'delete', resource: 'workflows', group, name: 'x' }),
      asked(client, { verb: 'create', resource: 'workfloweventbindings', group }),
      asked(client, { verb: 'get', resource: 'secrets', name: WEBHOOK_CLIENTS_SECRET }),
      asked(client, { verb: 'create', resource: 'pods' }),
      asked(argoServer, { verb: 'list', resource: 'secrets' }),
      asked(argoServer, { verb: 'get', resource: 'secrets', name: 'deploy-credentials' }),
      asked(argoServer, { verb: 'create', resource: 'workflows', group }),
    ]);
    expect(refused.filter((a) => a.allowed)).toEqual([]);
  });
});
