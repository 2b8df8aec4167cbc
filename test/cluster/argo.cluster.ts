import { randomBytes } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { IConstruct } from 'constructs';
import { Condition, ParameterType, Pipeline, Platform, SecretRef } from '../../constructs';
import { Builder, Delivery } from '../../constructs/delivery/delivery';
import { ModelEndpoint } from '../../constructs/delivery/model-endpoint';
import { DeliveryTriggers, WEBHOOK_CLIENTS_SECRET } from '../../constructs/delivery/triggers';
import { EnvironmentName } from '../../lib';
import { buildPushRequest, GIT_ZERO_SHA, githubSignature, GitHost, pushPayload, sendPushRequest, SignedPushRequest } from '../../lib/ci-trigger';
import { main as cli } from '../../lib/cli';
import { toYaml } from '../../lib/yaml';
import { loadStack } from '../../stacks/app';
import { apply, get, KubeObject, list } from './support/apply';
import { writeKubeconfig } from './support/control-plane';
import { runContainer, startContainer } from './support/local-pod';
import { run, scratch, sleep, stop, waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { createNode, runningWorkflowPods, succeedWorkflowPod } from './support/simulated-node';
import { tools } from './support/tools';
import { can, podTemplate, serviceAccountToken } from './support/workloads';

// Argo's workflow controller for real: run as its Deployment would (its args, the ConfigMap we render, its own
// service account's token, the archive in the real Postgres), namespaced as we render it. Pipelines are submitted
// as users submit them; the pods the controller creates are checked as the API server admitted them, and a
// simulated node finishes them the way the executor reports results, so the DAG moves on. The real argo-server beside
// it takes the events that start pipelines (the object store's notification, a model monitor) and a Git host's push
// webhooks that start the delivery (the delivery triggers, in CI namespaces of their own): one control plane, one
// controller and one argo-server for both.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const WF = 'argoproj.io/v1alpha1';
// the controller runs with an Argo instance ID: it handles only workflows labelled with it, as argo-server labels the
// ones it submits and our schedules label theirs; the workflows this file creates itself carry it too
const INSTANCE = 'cd4ml-tier';
const INSTANCE_LABEL = { 'workflows.argoproj.io/controller-instanceid': INSTANCE };
// The controller's workflow queue re-queues a workflow DEFAULT_REQUEUE_TIME after each pod or task-result change
// (workflow/controller/rate_limiters.go, 10 s by default), so every step of a run would take 10 s here. Upstream runs
// its own controller tests with 1 s (Makefile DEFAULT_REQUEUE_TIME, tasks.yaml; docs/environment-variables.md), the
// floor rate_limiters.go names for informers to keep up; only how soon it looks again changes, not what it decides.
const CONTROLLER_TEST_ENV = { DEFAULT_REQUEUE_TIME: '1s' };
const REPOSITORY = 'https://github.com/acme/churn-model.git';
const sha = () => randomBytes(20).toString('hex');

describe('the seed pipeline on the real Argo workflow controller', () => {
  let triggers!: DeliveryTriggers;
  let delivery!: Delivery;
  let gitlab!: DeliveryTriggers;
  let kaniko!: Delivery;
  // beside the stack's pipelines, one whose only step is cached and retried (argo-workflows#10426)
  const sb = new Sandbox(EnvironmentName.SANDBOX, (scope, runner) => {
    new Pipeline(scope, 'cached-retry', { runner }).addStep('flaky', { image: 'busybox:1.37', command: ['true'], inputs: { n: 1 }, outputs: { answer: ParameterType.STRING }, cache: { version: '1' }, retry: { limit: 2 } });
    // and one with what real teams ask of steps: Secrets as env and files, an endpoint outside, scratch, shared
    // memory, a dataset volume, placement, a condition, and an exit handler
    const options = new Pipeline(scope, 'step-options', { runner });
    const evaluate = options.addStep('evaluate', {
      image: 'busybox:1.37', command: ['true'], outputs: { accuracy: ParameterType.NUMBER, verdict: ParameterType.STRING },
      secretEnv: { WAREHOUSE_PASSWORD: { secret: SecretRef.fromSecretName('warehouse-login', ['password']), key: 'password' } },
      secretFiles: { gcp: { secret: SecretRef.fromSecretName('gcp-key', ['key.json']) } },
      egress: [{ name: 'warehouse', cidrs: ['203.0.113.10/32'], ports: [5432] }],
      resources: { ephemeralStorage: '4Gi' }, sharedMemory: '256Mi',
      volumes: { data: { claimName: 'datasets', mountPath: '/data' } },
      placement: { tolerations: [{ key: 'batch', operator: 'Exists', effect: 'NoSchedule' }] },
    });
    options.addStep('register', { image: 'busybox:1.37', command: ['true'], when: Condition.atLeast(evaluate.output('accuracy'), 0.9) });
    options.addStep('alert', { image: 'busybox:1.37', command: ['false'], when: Condition.equals(evaluate.output('verdict'), 'degraded') });
    options.addExitHandler('notify', { image: 'busybox:1.37', command: ['true'], inputs: { channel: 'ml-alerts' } });
    // the sandbox definition's delivery (GitHub's triggers, the three environments' templates, the CI namespace's
    // controller), and GitLab's triggers in a CI namespace of their own
    const found = scope.node.findAll();
    triggers = found.find((c: IConstruct): c is DeliveryTriggers => c instanceof DeliveryTriggers)!;
    delivery = found.find((c: IConstruct): c is Delivery => c instanceof Delivery)!;
    gitlab = new DeliveryTriggers(scope, 'delivery-gitlab', { platform: runner.node.scope as Platform, gitHost: GitHost.GITLAB, namespace: 'cd4ml-ci-gitlab', repository: 'ml/churn-model' });
    // GitLab's pushes deliver the same pipeline, built with kaniko in a build namespace at Pod Security "baseline"
    const platform = runner.node.scope as Platform;
    kaniko = new Delivery(scope, 'delivery-kaniko', {
      platform, triggers: gitlab, pipeline: 'breast-cancer', candidate: { step: 'train-model' }, image: 'k3d-registry.localhost:5000/churn-model', builder: Builder.kaniko(),
      environments: Object.fromEntries(gitlab.rules.map((r) => [r.environment, {
        endpoint: new ModelEndpoint(scope, `churn-${r.environment}`, { platform, model: 'churn', version: '1', image: 'k3d-registry.localhost:5000/churn-model:1.0.0' }),
        gate: { metric: 'roc_auc' }, alias: `champion-${r.environment}`,
      }])),
    });
  }, { workflowInstanceId: INSTANCE, ...(({ delivery, pipelineDomains }) => ({ delivery, pipelineDomains }))(loadStack(EnvironmentName.SANDBOX).options) });
  // the sandbox definition's pipeline domains (dev, staging, prod): each delivery runs in its own
  const domains = ['dev', 'staging', 'prod'];
  const domainNamespaceOf = (env: string): string => podTemplate(sb.find('Deployment', `workflow-controller-${env}`)).spec.containers[0].args[4] as string;
  const domainNamespaces = domains.map(domainNamespaceOf);
  /** The domains' workflow controllers the delivery tests start (staging and prod, where runs go to the end). */
  const domainControllers: Record<string, Awaited<ReturnType<typeof startContainer>>> = {};
  const pipelinesNs = sb.objects.find((o) => o.kind === 'LimitRange' && o.metadata.name === 'pipelines' && !domainNamespaces.includes(o.metadata.namespace!))!.metadata.namespace!;
  const argoNs = sb.find('Deployment', 'argo-server').metadata.namespace!;
  const template = sb.find('WorkflowTemplate', 'breast-cancer');
  let executor: { server: string; token: string };
  const seen: Obj[] = [];

  /** Submits a Workflow and plays the node: every pod the controller creates is checked and then succeeds. */
  async function runToCompletion(workflow: Obj, timeoutMs = 240000, node: { value?: (parameter: string) => string; exitCode?: (pod: Obj) => number } = {}): Promise<Obj> {
    const labelled = { ...workflow, metadata: { ...workflow.metadata, labels: { ...(workflow.metadata.labels ?? {}), ...INSTANCE_LABEL } } };
    const created = await sb.cp.api<Obj>('POST', `/apis/${WF}/namespaces/${pipelinesNs}/workflows`, labelled);
    expect({ status: created.status, message: created.body.message }).toEqual({ status: 201, message: undefined });
    const name = created.body.metadata.name;
    return waitFor(`Workflow ${name} to finish`, async () => {
      for (const pod of await runningWorkflowPods(sb.cp, pipelinesNs)) {
        if (pod.metadata.labels['workflows.argoproj.io/workflow'] !== name) continue;
        if (!seen.some((p) => p.metadata.uid === pod.metadata.uid)) seen.push(pod);
        await succeedWorkflowPod(sb.cp, pod, executor, node.value ?? ((p) => (p === 'data_uri' ? 's3://data/prepared/x' : p === 'model_version' ? '1' : `${p}-value`)), node.exitCode?.(pod) ?? 0);
      }
      const wf = await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, name);
      return wf?.status?.phase === 'Succeeded' || wf?.status?.phase === 'Failed' || wf?.status?.phase === 'Error' ? wf : undefined;
    }, timeoutMs, { intervalMs: 250, proc: controllerProc });
  }

  let controllerProc: Awaited<ReturnType<typeof startContainer>>;
  let server: Awaited<ReturnType<typeof startContainer>>;
  /** argo-server's URL (its web port on loopback). */
  let base: string;
  /** A POST to argo-server (its certificate is self-signed), with a bearer token when given. */
  const argoPost = async (path: string, body: unknown, token?: string): Promise<{ status: number; text: string }> => {
    const { request } = await import('https');
    return new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, { method: 'POST', rejectUnauthorized: false, timeout: 30000, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  };

  beforeAll(async () => {
    await sb.start();
    // the executor's token is filled in by the controller manager meanwhile
    const [executorToken] = await Promise.all([serviceAccountToken(sb.cp, pipelinesNs, 'pipeline-executor.service-account-token'), (async () => {
      const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
      if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
      await sb.startPostgres();
      await createNode(sb.cp);
      const deployment = sb.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'workflow-controller' && o.metadata.namespace === argoNs)!;
      controllerProc = sb.track(await startContainer({
        cp: sb.cp, namespace: argoNs, pod: podTemplate(deployment).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo], extraEnv: CONTROLLER_TEST_ENV,
      }));
      // argo-server as its Deployment runs it (the archive in Postgres, client auth mode, the instance ID); it comes up
      // while the controller's tests run, and the describes that post to it wait until it takes requests
      const serverDeployment = sb.find('Deployment', 'argo-server');
      server = sb.track(await startContainer({
        cp: sb.cp, namespace: argoNs, pod: podTemplate(serverDeployment).spec, container: 'argo-server', hosts: sb.hosts(), path: [tools().argo], entrypoint: ['argo'],
      }));
      const port = ((serverDeployment.spec as Obj).template.spec.containers[0].ports as Obj[]).find((p) => p.name === 'web')!.containerPort;
      base = `https://127.0.0.1:${port}`;
    })()]);
    executor = { server: sb.cp.admin.server, token: executorToken };
  });
  afterAll(async () => {
    // Argo v4.0.5's binaries do not exit on SIGTERM (util/logging/init.go initSignalHandlers takes the signal and only
    // flushes its start-up logs), so each waits out stop()'s grace before its SIGKILL: wait for both at once
    await Promise.all([server, controllerProc].filter((p) => p !== undefined).map((p) => stop(p)));
    await sb.stop();
  });

  test('the controller starts with the ConfigMap we render, its own token and the archive in Postgres', async () => {
    await waitFor('the controller to serve /healthz', async () => ((await fetch('http://127.0.0.1:6060/healthz').catch(() => undefined))?.ok ? true : undefined), 90000, { proc: controllerProc, intervalMs: 250 });
    // the archive migrated its tables into the argo database with the argo role
    await waitFor('the archive tables', () => (sb.postgres!.sql(`SELECT count(*) FROM pg_tables WHERE tablename = 'argo_archived_workflows'`, 'argo') === '1' ? true : undefined), 60000, { proc: controllerProc });
  });

  test('each pipeline domain\'s controller may run pods and read templates in its own namespace only (the real authorizer)', async () => {
    const account = (name: string) => `system:serviceaccount:${argoNs}:${podTemplate(sb.find('Deployment', name)).spec.serviceAccountName}`;
    const rights = async (controller: string) => Object.fromEntries(await Promise.all([pipelinesNs, ...domainNamespaces].map(async (ns) => [ns, [
      await can(sb.cp, account(controller), { verb: 'create', resource: 'pods', namespace: ns }),
      await can(sb.cp, account(controller), { verb: 'list', resource: 'workflowtemplates', group: 'argoproj.io', namespace: ns }),
      await can(sb.cp, account(controller), { verb: 'update', resource: 'workflows', group: 'argoproj.io', namespace: ns }),
    ].every(Boolean)] as const)));
    const only = (ns: string) => Object.fromEntries([pipelinesNs, ...domainNamespaces].map((n) => [n, n === ns]));
    expect(await rights('workflow-controller')).toEqual(only(pipelinesNs));
    for (const env of domains) expect({ env, rights: await rights(`workflow-controller-${env}`) }).toEqual({ env, rights: only(domainNamespaceOf(env)) });
  });

  test('a workflow from the seed template runs its DAG to the end: every pod admitted, with declared resources and existing mounts', async () => {
    const wf = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'breast-cancer-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'breast-cancer' } } });
    expect({ phase: wf.status.phase, message: wf.status.message }).toEqual({ phase: 'Succeeded', message: undefined });
    const steps = Object.values(wf.status.nodes as Record<string, Obj>).filter((n) => n.type === 'Pod').map((n) => `${n.templateName}:${n.phase}`).sort();
    expect(steps).toEqual(['deploy-model:Succeeded', 'prepare-data:Succeeded', 'train-model:Succeeded']);
    // the outputs reported by the executor flowed into the next step's inputs
    const train = Object.values(wf.status.nodes as Record<string, Obj>).find((n) => n.displayName === 'train-model')!;
    expect(train.inputs.parameters.find((p: Obj) => p.name === 'data_uri').value).toBe('s3://data/prepared/x');

    // every pod: its Secrets, ConfigMaps and service account exist; main has the template's resources; no GPU
    const problems: string[] = [];
    for (const pod of seen) {
      const id = `pod ${pod.metadata.name}`;
      for (const v of (pod.spec.volumes ?? []) as Obj[]) {
        if (v.secret && !(await get(sb.cp, 'v1', 'Secret', pipelinesNs, v.secret.secretName))) problems.push(`${id}: volume ${v.name} mounts missing Secret ${v.secret.secretName}`);
        if (v.configMap && !(await get(sb.cp, 'v1', 'ConfigMap', pipelinesNs, v.configMap.name))) problems.push(`${id}: volume ${v.name} mounts missing ConfigMap ${v.configMap.name}`);
      }
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers] as Obj[]) {
        for (const e of (c.env ?? []) as Obj[]) {
          if (e.valueFrom?.secretKeyRef && !(await get(sb.cp, 'v1', 'Secret', pipelinesNs, e.valueFrom.secretKeyRef.name))) problems.push(`${id}/${c.name}: env ${e.name} from missing Secret`);
        }
        const gpus = Object.keys({ ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) }).filter((k) => k.includes('gpu'));
        if (gpus.length) problems.push(`${id}/${c.name}: asks for ${gpus.join(', ')}`);
      }
      if (!(await get(sb.cp, 'v1', 'ServiceAccount', pipelinesNs, pod.spec.serviceAccountName))) problems.push(`${id}: service account ${pod.spec.serviceAccountName} missing`);
      const step = (template.spec as Obj).templates.find((t: Obj) => t.name === pod.metadata.labels['cd4ml.io/step']);
      const main = pod.spec.containers.find((c: Obj) => c.name === 'main');
      if (JSON.stringify(main.resources) !== JSON.stringify(step.container.resources)) problems.push(`${id}: main resources ${JSON.stringify(main.resources)} != declared ${JSON.stringify(step.container.resources)}`);
    }
    expect(problems).toEqual([]);
    expect(seen.length).toBe(3);
  });

  test('the cached step writes its cache in the controller\'s namespace, and the next run hits it', async () => {
    const cache = await get<Obj>(sb.cp, 'v1', 'ConfigMap', argoNs, 'breast-cancer-cache');
    expect(Object.keys(cache?.data ?? {})).toHaveLength(1);
    const before = seen.length;
    const wf = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'breast-cancer-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'breast-cancer' } } });
    expect(wf.status.phase).toBe('Succeeded');
    const prepare = Object.values(wf.status.nodes as Record<string, Obj>).find((n) => n.displayName === 'prepare-data')!;
    expect(prepare.memoizationStatus).toMatchObject({ hit: true, cacheName: 'breast-cancer-cache' });
    expect(seen.length - before).toBe(2);
  });

  test('a cached step that also retries writes its cache when an attempt succeeds (argo-workflows#10426 is fixed)', async () => {
    const wf = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'cached-retry-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'cached-retry' } } });
    expect(wf.status.phase).toBe('Succeeded');
    const cache = await get<Obj>(sb.cp, 'v1', 'ConfigMap', argoNs, 'cached-retry-cache');
    const entries = Object.values((cache?.data ?? {}) as Record<string, string>).map((v) => JSON.parse(v));
    expect(entries).toHaveLength(1);
    expect(entries[0].outputs.parameters).toEqual([expect.objectContaining({ name: 'answer', value: 'answer-value' })]);
    // and the next run takes the step from the cache: no pod
    const before = seen.length;
    const again = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'cached-retry-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'cached-retry' } } });
    expect(again.status.phase).toBe('Succeeded');
    expect(Object.values(again.status.nodes as Record<string, Obj>).some((n) => n.memoizationStatus?.hit === true)).toBe(true);
    expect(seen.length).toBe(before);
  });

  test('the nightly CronWorkflow\'s workflow runs as the schedule would start it', async () => {
    const cron = sb.find('CronWorkflow', 'breast-cancer-nightly');
    const wf = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'breast-cancer-nightly-', namespace: pipelinesNs, labels: { 'workflows.argoproj.io/cron-workflow': cron.metadata.name } }, spec: (cron.spec as Obj).workflowSpec });
    expect(wf.status.phase).toBe('Succeeded');
  });

  test('a workflow that does not reference a template is refused once event triggers exist (templateReferencing: Secure)', async () => {
    const inline = { apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'inline-', namespace: pipelinesNs, labels: INSTANCE_LABEL }, spec: { entrypoint: 'x', templates: [{ name: 'x', container: { image: 'busybox:1.37', command: ['true'] } }] } };
    const created = await sb.cp.api<Obj>('POST', `/apis/${WF}/namespaces/${pipelinesNs}/workflows`, inline);
    const name = created.body.metadata.name;
    const wf = await waitFor(`Workflow ${name} to be judged`, async () => {
      const w = await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, name);
      return w?.status?.phase ? w : undefined;
    }, 60000, { proc: controllerProc });
    expect(wf.status.phase).toBe('Error');
    expect(wf.status.message).toMatch(/workflowTemplateRef/i);
    expect((await list<Obj>(sb.cp, 'v1', 'Pod', pipelinesNs, `workflows.argoproj.io/workflow=${name}`))).toEqual([]);
  });

  test('a workflow without the instance ID is left to another controller: ours never touches it', async () => {
    const foreign = await sb.cp.api<Obj>('POST', `/apis/${WF}/namespaces/${pipelinesNs}/workflows`, { apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'foreign-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'breast-cancer' } } });
    expect(foreign.status).toBe(201);
    // a labelled one submitted after it is judged, so the controller has had its chance at both
    const ours = await sb.cp.api<Obj>('POST', `/apis/${WF}/namespaces/${pipelinesNs}/workflows`, { apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'ours-', namespace: pipelinesNs, labels: INSTANCE_LABEL }, spec: { workflowTemplateRef: { name: 'breast-cancer' } } });
    await waitFor('our workflow to start', async () => ((await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, ours.body.metadata.name))?.status?.phase ? true : undefined), 60000, { proc: controllerProc });
    await new Promise((res) => setTimeout(res, 3000));
    expect((await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, foreign.body.metadata.name))?.status?.phase).toBeUndefined();
    expect(await list<Obj>(sb.cp, 'v1', 'Pod', pipelinesNs, `workflows.argoproj.io/workflow=${foreign.body.metadata.name}`)).toEqual([]);
    // stop ours: it is not the subject here
    await sb.cp.api('DELETE', `/apis/${WF}/namespaces/${pipelinesNs}/workflows/${ours.body.metadata.name}`);
  });

  describe('argo-server\'s events endpoint, as the object store\'s notification and a model monitor call it', () => {
    let triggerToken: string;
    /** POST to argo-server over TLS (its self-signed certificate: loopback only). */
    const post = argoPost;
    const byTrigger = async (trigger: string) => list<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, `cd4ml.io/trigger=${trigger}`);

    beforeAll(async () => {
      triggerToken = await serviceAccountToken(sb.cp, pipelinesNs, 'pipeline-trigger-token');
      // its HTTP gateway answers before its own gRPC client has connected (it retries with backoff): wait for an
      // event that matches no binding to be accepted
      await waitFor('argo-server to accept events', async () => ((await post(`/api/v1/events/${pipelinesNs}/cd4ml-readiness`, {}, triggerToken).catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc: server, intervalMs: 250 });
    });

    test('an event without a token is refused and submits nothing', async () => {
      const r = await post(`/api/v1/events/${pipelinesNs}/breast-cancer-new-data`, { EventName: 's3:ObjectCreated:Put', Key: 'data/incoming/a.csv' });
      // without a bearer token argo-server looks for webhook clients with its own identity, which may not read
      // Secrets here, and refuses (server/auth/webhook/interceptor.go)
      expect({ status: r.status, text: r.text, log: r.status === 403 ? '' : server.tail(40) }).toEqual({ status: 403, text: '{"message": "failed to process webhook request"}', log: '' });
      expect(await byTrigger('new-data')).toEqual([]);
    });

    test('a new-data notification with the trigger token submits the pipeline, which runs to the end', async () => {
      const r = await post(`/api/v1/events/${pipelinesNs}/breast-cancer-new-data`, { EventName: 's3:ObjectCreated:Put', Key: 'data/incoming/a.csv', Records: [] }, triggerToken);
      expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: '{}' });
      const [wf] = await waitFor('the triggered workflow', async () => { const w = await byTrigger('new-data'); return w.length ? w : undefined; }, 30000);
      expect(wf.spec.workflowTemplateRef).toEqual({ name: 'breast-cancer' });
      // an object written elsewhere (our own outputs under prepared/) triggers nothing: taken, and after at least 3 s
      // (spent running the triggered workflow) still the one run
      const elsewhere = await post(`/api/v1/events/${pipelinesNs}/breast-cancer-new-data`, { EventName: 's3:ObjectCreated:Put', Key: 'data/prepared/b.csv' }, triggerToken);
      expect({ status: elsewhere.status, text: elsewhere.text }).toEqual({ status: 200, text: '{}' });
      const quiet = sleep(3000);
      const done = await waitFor(`Workflow ${wf.metadata.name} to finish`, async () => {
        for (const pod of await runningWorkflowPods(sb.cp, pipelinesNs)) {
          if (pod.metadata.labels['workflows.argoproj.io/workflow'] === wf.metadata.name) await succeedWorkflowPod(sb.cp, pod, executor, (p) => `${p}-value`);
        }
        const w = await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, wf.metadata.name);
        return ['Succeeded', 'Failed', 'Error'].includes(w?.status?.phase) ? w : undefined;
      }, 240000, { intervalMs: 250, proc: controllerProc });
      await quiet;
      expect(await byTrigger('new-data')).toHaveLength(1);
      expect(done.status.phase).toBe('Succeeded');
    });

    test('a degraded-model event passes its threshold as a parameter; a malformed one is recorded as a Kubernetes Event', async () => {
      const r = await post(`/api/v1/events/${pipelinesNs}/breast-cancer-model-degraded`, { min_auc: '0.97' }, triggerToken);
      expect(r.status).toBe(200);
      const [wf] = await waitFor('the degraded-model workflow', async () => { const w = await byTrigger('model-degraded'); return w.length ? w : undefined; }, 30000);
      expect(wf.spec.arguments.parameters).toEqual([{ name: 'min_auc', value: '0.97' }]);
      // a payload that is not an object cannot be judged by the new-data selector: argo-server records why, with
      // its own identity (it may create Events here), and answers with an error
      const bad = await post(`/api/v1/events/${pipelinesNs}/breast-cancer-new-data`, ['not', 'a', 'notification'], triggerToken);
      expect(bad.status).toBeGreaterThanOrEqual(400);
      const events = await waitFor('a WorkflowEventBindingError Event', async () => {
        const e = (await list<Obj>(sb.cp, 'v1', 'Event', pipelinesNs)).filter((x) => x.reason === 'WorkflowEventBindingError');
        return e.length ? e : undefined;
      }, 30000);
      expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'WorkflowEventBinding', name: 'breast-cancer-new-data' } });
      expect(events[0].message).toContain('failed to dispatch event');
    });
  });

  // A Git host's push webhooks through the same argo-server (in client auth mode, with the Argo instance ID):
  // argo-server checks the GitHub signature against the webhook clients Secret, acts as the webhook client's service
  // account with the RBAC we render, and the bindings we render pick the environment from the ref and name the run
  // after the commit. The requests are built and signed by lib/ci-trigger.ts, as `cd4ml ci trigger` sends them; what
  // is asserted is what argo-server answered and the Workflows it created.
  describe('push webhooks start the delivery through the real argo-server', () => {
    const ci = triggers.namespace;
    const secret = randomBytes(24).toString('base64url');
    let ciController: Awaited<ReturnType<typeof startContainer>>;
    afterAll(async () => { await Promise.all([ciController, ...Object.values(domainControllers)].filter((p) => p !== undefined).map((p) => stop(p))); });
    /** The pods of a run in the CI namespace, once the CI controller made them. */
    const podsOf = async (workflow: string): Promise<Obj[]> => list<Obj>(sb.cp, 'v1', 'Pod', ci, `workflows.argoproj.io/workflow=${workflow}`);
    /** The DAG task a pod runs (`<workflow>.<task>`, or `<workflow>.<task>(<attempt>)` for a retried one: the node name the controller annotates it with). */
    const taskOf = (pod: Obj): string => String(pod.metadata.annotations?.['workflows.argoproj.io/node-name'] ?? '').split('.').pop()!.replace(/\(\d+\)$/, '');

    /** A push as GitHub sends it, built and signed by lib/ci-trigger.ts. */
    const push = (ref: string, revision: string, signWith = secret): SignedPushRequest => buildPushRequest({ host: GitHost.GITHUB, ref, revision, repository: REPOSITORY }, { server: base, namespace: ci }, signWith);
    const send = (r: SignedPushRequest) => sendPushRequest(r, { insecureSkipVerify: true });
    const workflows = async (): Promise<Obj[]> => list<Obj>(sb.cp, WF, 'Workflow', ci);
    const params = (wf: Obj): Record<string, string> => Object.fromEntries((wf.spec.arguments.parameters as Obj[]).map((p) => [p.name, p.value]));

    beforeAll(async () => {
      // the bindings carry the controller's instance ID, which DeliveryTriggers takes from the platform: argo-server
      // lists only such bindings (server/event/event_server.go ReceiveEvent)
      for (const ns of [ci, gitlab.namespace]) {
        const bindings = await list<Obj>(sb.cp, WF, 'WorkflowEventBinding', ns);
        expect({ ns, bindings: bindings.length, instanceIds: [...new Set(bindings.map((b) => b.metadata.labels?.['workflows.argoproj.io/controller-instanceid']))] }).toEqual({ ns, bindings: 3, instanceIds: [INSTANCE] });
      }
      // Both deliveries' templates are applied (the sandbox's, and the kaniko one of GitLab's pushes). What the
      // operator creates by hand: the webhook clients Secret with the shared secret.
      await apply(sb.cp, [
        ...[triggers, gitlab].map((t) => ({
          apiVersion: 'v1', kind: 'Secret', metadata: { name: WEBHOOK_CLIENTS_SECRET, namespace: t.namespace },
          stringData: { [t.serviceAccountName]: `type: ${t.gitHost}\nsecret: ${secret}\n` },
        } as unknown as KubeObject)),
      ]);
      // The CI namespace's own workflow controller, as its Deployment runs it. One change for this machine: both
      // controllers share its network, and each serves metrics on 9090 (a port conflict panics the second), so the CI
      // one's ConfigMap, as applied, moves its metrics to 9091; in a cluster each pod has its own address.
      const ciConfig = `/api/v1/namespaces/${ci}/configmaps/workflow-controller-configmap`;
      const patched = await sb.cp.api<Obj>('PATCH', ciConfig, { data: { metricsConfig: JSON.stringify({ port: 9091 }) } }, sb.cp.admin, 'application/merge-patch+json');
      expect(patched.status).toBe(200);
      ciController = sb.track(await startContainer({
        cp: sb.cp, namespace: ci, pod: podTemplate(delivery.controllerDeployment.toJson() as KubeObject).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo], extraEnv: CONTROLLER_TEST_ENV, name: 'ci-controller',
      }));
      // The staging and prod domains' own controllers, as their Deployments run them beside the platform's (metrics moved
      // for this machine likewise): each manages its domain's namespace only, with its own Lease (its instance ID)
      for (const [i, env] of ['staging', 'prod'].entries()) {
        const config = `/api/v1/namespaces/${argoNs}/configmaps/workflow-controller-configmap-${env}`;
        const moved = await sb.cp.api<Obj>('PATCH', config, { data: { metricsConfig: JSON.stringify({ port: 9092 + i }) } }, sb.cp.admin, 'application/merge-patch+json');
        expect(moved.status).toBe(200);
        domainControllers[env] = sb.track(await startContainer({
          cp: sb.cp, namespace: argoNs, pod: podTemplate(sb.find('Deployment', `workflow-controller-${env}`)).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo], extraEnv: CONTROLLER_TEST_ENV, name: `controller-${env}`,
        }));
      }
      // its gateway answers before its gRPC client connects: wait until a signed push that no rule maps (a tag that is no
      // version) is taken, which also proves the signature check and the client's token work
      await waitFor('argo-server to take a signed push', async () => ((await send(push('refs/tags/readiness', sha())).catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc: server, intervalMs: 250 });
      expect(await workflows()).toEqual([]);
    });

    // every test starts from CI namespaces without runs (the templates, Secrets and bindings stay). A run the CI
    // namespace's controller took is stopped first, as `argo terminate` does, so it ends and hands back its
    // environment's lock at once; the controller releases a deleted holder's lock only at its periodic check
    beforeEach(async () => {
      const running = (await list<Obj>(sb.cp, WF, 'Workflow', ci)).filter((w) => w.status?.phase === 'Running' || w.status?.phase === 'Pending');
      for (const w of running) {
        const r = await sb.cp.api<Obj>('PATCH', `/apis/${WF}/namespaces/${ci}/workflows/${w.metadata.name}`, { spec: { shutdown: 'Terminate' } }, sb.cp.admin, 'application/merge-patch+json');
        if (r.status !== 200) throw new Error(`terminating ${w.metadata.name}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      await waitFor('the terminated runs to end', async () => {
        const left = (await list<Obj>(sb.cp, WF, 'Workflow', ci)).filter((w) => running.some((r) => r.metadata.name === w.metadata.name) && !['Failed', 'Error', 'Succeeded'].includes(w.status?.phase));
        return left.length === 0 ? true : undefined;
      }, 30000, { intervalMs: 250 });
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
      // the pipeline namespace holds the runs of the tests above: the push must add none
      const pipelineRuns = async () => (await list<Obj>(sb.cp, WF, 'Workflow', pipelinesNs)).map((w) => w.metadata.name as string);
      const pipelineRunsBefore = await pipelineRuns();
      const r = await send(push(ref, revision));
      expect({ status: r.status, text: r.text, log: r.status === 200 ? '' : server.tail(30) }).toEqual({ status: 200, text: '{}', log: '' });
      const runs = await workflows();
      expect(runs.map((w) => w.metadata.name)).toEqual([`cd4ml-delivery-${environment}-${revision}`]);
      const [wf] = runs;
      expect(wf.spec.workflowTemplateRef).toEqual({ name: `cd4ml-delivery-${environment}` });
      expect(params(wf)).toEqual({ environment, revision, repository: REPOSITORY, ref });
      // argo-server labels what it submits with the instance ID and the binding; the creator is the webhook client
      expect(wf.metadata.labels).toMatchObject({ 'workflows.argoproj.io/controller-instanceid': INSTANCE, 'workflows.argoproj.io/workflow-event-binding': binding, 'cd4ml.io/trigger': 'push', 'cd4ml.io/environment': environment });
      expect(wf.metadata.labels['workflows.argoproj.io/creator']).toMatch(/github\.com/);
      expect(wf.metadata.annotations).toMatchObject({ 'cd4ml.io/revision': revision, 'cd4ml.io/ref': ref });
      // nothing reached the pipeline namespace
      expect((await pipelineRuns()).filter((name) => !pipelineRunsBefore.includes(name))).toEqual([]);
      // and the CI namespace's controller takes the run: it holds the environment's lock, makes the workspace claim, and
      // starts the checkout as the environment's steps account, without an API token, the executor holding its own
      const [checkout] = await waitFor('the delivery\'s checkout pod', async () => { const p = await podsOf(wf.metadata.name); return p.length ? p : undefined; }, 60000, { proc: ciController, intervalMs: 250 });
      expect(taskOf(checkout)).toBe('checkout');
      expect(checkout.spec.serviceAccountName).toBe(`cd4ml-delivery-${environment}`);
      expect(checkout.spec.automountServiceAccountToken).toBe(false);
      expect((checkout.spec.volumes as Obj[]).find((v) => v.name === 'exec-sa-token')?.secret?.secretName).toBe(`cd4ml-delivery-${environment}-executor.service-account-token`);
      expect((checkout.spec.volumes as Obj[]).find((v) => v.name === 'workspace')?.persistentVolumeClaim?.claimName).toBe(`${wf.metadata.name}-workspace`);
      const main = (checkout.spec.containers as Obj[]).find((c) => c.name === 'main')!;
      expect(main.env).toEqual(expect.arrayContaining([{ name: 'CD4ML_REVISION', value: revision }, { name: 'CD4ML_REPOSITORY', value: REPOSITORY }, { name: 'CD4ML_ENVIRONMENT', value: environment }]));
      expect(await get(sb.cp, 'v1', 'PersistentVolumeClaim', ci, `${wf.metadata.name}-workspace`)).toBeDefined();
      const held = await get<Obj>(sb.cp, WF, 'Workflow', ci, wf.metadata.name);
      expect(held!.status.synchronization?.mutex?.holding?.[0]?.mutex).toEqual(expect.stringMatching(new RegExp(`Mutex/cd4ml-delivery-${environment}$`)));
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
        asked(client, { verb: 'get', resource: 'workflowtemplates', group, name: 'cd4ml-delivery-staging' }),
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

    // A delivery end to end through the real controllers: the CI controller runs the staging template the push
    // started; the simulated node plays the kubelet. The steps that talk to the API server run for real, as their pod
    // runs them (the executor's wrapper aside): `delivery.py register` and `run` with the environment's own account,
    // and `cd4ml ci template` on the pipelines `npm run synth` wrote. The run they start in the pipeline namespace is
    // the platform's controller's. Checkout, test and build (Git, npm, a registry) and the MLflow steps (the MLflow
    // suite runs gate, promote and deploy on the real MLflow) report their outputs as their executor would.
    describe('a delivery on the real controllers', () => {
      const pyBin = () => join(tools().python, 'bin');
      const digest = `sha256:${'c0ffee'.repeat(10)}${'0'.repeat(4)}`;
      /** The workspace claims of the runs: one directory per claim, shared by a run's pods. */
      const claims: Record<string, string> = {};
      let reviewer: string;

      beforeAll(async () => {
        // a reviewer: the approver Role the delivery renders, bound to an account of the CI namespace
        await apply(sb.cp, [
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reviewer', namespace: ci } },
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reviewer', namespace: ci }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: delivery.approverRoleName }, subjects: [{ kind: 'ServiceAccount', name: 'reviewer', namespace: ci }] },
        ] as unknown as KubeObject[]);
        reviewer = writeKubeconfig(scratch('reviewer'), 'reviewer', { server: sb.cp.admin.server, token: await tokenOf(ci, 'reviewer') });
      });

      /** A token of a service account (TokenRequest), as a pod's projected volume holds. */
      async function tokenOf(namespace: string, account: string): Promise<string> {
        const r = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
        return r.body.status.token as string;
      }

      /** The pod as the kubelet would start its main container: the executor's wrapper (`argoexec emissary --`) dropped. */
      function mainOnly(pod: Obj): Obj {
        const spec = JSON.parse(JSON.stringify(pod.spec)) as Obj;
        const main = (spec.containers as Obj[]).find((c) => c.name === 'main')!;
        const cmd = main.command as string[];
        if (cmd.includes('--')) main.command = cmd.slice(cmd.indexOf('--') + 1);
        return { ...spec, initContainers: [], containers: [main] };
      }

      /** The outputs a step's main container wrote (`/tmp/outputs/<name>`, on its tmp emptyDir). */
      const outputsIn = (volumes: string) => (name: string) => readFileSync(join(volumes, 'tmp', 'outputs', name), 'utf8');

      /**
       * Plays a delivery run's steps until `until` says stop: each new pod of the run is handled by `step` (its outputs,
       * or a failure), then finished as its executor and the kubelet would.
       */
      async function drive(workflow: string, env: string, step: (task: string, pod: Obj) => Promise<{ outputs?: (name: string) => string; exitCode?: number }>, until: (wf: Obj) => boolean, timeoutMs = 240000): Promise<Obj> {
        const executor = { server: sb.cp.admin.server, token: await tokenOf(ci, `cd4ml-delivery-${env}-executor`) };
        const done = new Set<string>();
        return waitFor(`delivery ${workflow}`, async () => {
          for (const pod of (await podsOf(workflow)).filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase) && !p.metadata.deletionTimestamp)) {
            if (done.has(pod.metadata.uid)) continue;
            done.add(pod.metadata.uid);
            const claim = (pod.spec.volumes as Obj[]).find((v) => v.name === 'workspace')?.persistentVolumeClaim?.claimName;
            if (claim && !claims[claim]) claims[claim] = scratch(`claim-${claim}`);
            const r = await step(taskOf(pod), pod);
            await succeedWorkflowPod(sb.cp, pod, executor, r.outputs ?? ((n) => `${n}-value`), r.exitCode ?? 0);
          }
          const wf = await get<Obj>(sb.cp, WF, 'Workflow', ci, workflow);
          return wf && until(wf) ? wf : undefined;
        }, timeoutMs, { intervalMs: 250, proc: ciController });
      }

      /**
       * What the repository's test step leaves (`npm run synth -- sandbox`): the sandbox's pipelines in
       * dist/sandbox/pipelines, one file per namespace: the platform's and each domain's, one platform serving the three.
       */
      function checkedOut(claim: string): void {
        const dir = join(claims[claim], 'src', 'dist', 'sandbox', 'pipelines');
        mkdirSync(dir, { recursive: true });
        for (const ns of [pipelinesNs, ...domainNamespaces]) writeFileSync(join(dir, `${ns}.yaml`), toYaml(sb.pipelineObjects.filter((o) => o.metadata.namespace === ns)));
      }

      /** The steps that run for real; `mlflow` gives the MLflow steps' outputs. */
      function realSteps(env: string, revision: string, pipelineRun: { name?: string; pods: string[]; args?: Record<string, string[]> }) {
        return async (task: string, pod: Obj): Promise<{ outputs?: (name: string) => string; exitCode?: number }> => {
          const claim = (pod.spec.volumes as Obj[]).find((v) => v.name === 'workspace')?.persistentVolumeClaim?.claimName as string | undefined;
          const main = (pod.spec.containers as Obj[]).find((c) => c.name === 'main')!;
          const args = [...(main.command as string[]).slice((main.command as string[]).indexOf('--') + 1), ...((main.args ?? []) as string[])];
          pipelineRun.args = { ...(pipelineRun.args ?? {}), [task]: args };
          if (task === 'checkout') { checkedOut(claim!); return {}; }
          if (task === 'build') return { outputs: () => digest };
          if (task === 'render') {
            // `npx --no-install cd4ml ci template ...` in the checkout, as the pod runs it
            expect(args.slice(0, 5)).toEqual(['npx', '--no-install', 'cd4ml', 'ci', 'template']);
            const rest = args.slice(5).map((a, i, all) => (all[i - 1] === '--dir' ? join(claims[claim!], 'src', a) : a.startsWith('/workspace/') ? join(claims[claim!], a.slice('/workspace/'.length)) : a));
            const errors: string[] = [];
            const code = cli(['ci', 'template', ...rest], () => undefined, (l) => errors.push(l));
            expect({ code, errors }).toEqual({ code: 0, errors: [] });
            return {};
          }
          if (task === 'register') {
            const r = await runContainer({ cp: sb.cp, namespace: ci, pod: mainOnly(pod), container: 'main', hosts: sb.hosts(), path: [pyBin()], claims, timeoutMs: 60000 });
            expect({ task, status: r.status, stderr: r.stderr }).toEqual({ task, status: 0, stderr: '' });
            return { outputs: outputsIn(r.volumes) };
          }
          if (task === 'run') {
            // delivery.py starts the registered template in the pipeline namespace and waits; meanwhile the node
            // plays the platform controller's pods of that run
            const proc = await startContainer({ cp: sb.cp, namespace: ci, pod: mainOnly(pod), container: 'main', hosts: sb.hosts(), path: [pyBin()], name: `run-${revision.slice(0, 8)}` });
            sb.track(proc);
            const domainNs = domainNamespaceOf(env);
            const name = await waitFor('the pipeline run delivery.py starts', async () => (await list<Obj>(sb.cp, WF, 'Workflow', domainNs, `cd4ml.io/revision=${revision}`))[0]?.metadata.name as string | undefined, 60000, { proc, intervalMs: 250 });
            pipelineRun.name = name;
            const domainExecutor = { server: sb.cp.admin.server, token: await serviceAccountToken(sb.cp, domainNs, 'pipeline-executor.service-account-token') };
            await waitFor(`pipeline run ${name}`, async () => {
              for (const p of await runningWorkflowPods(sb.cp, domainNs)) {
                if (p.metadata.labels['workflows.argoproj.io/workflow'] !== name) continue;
                pipelineRun.pods.push(p.spec.containers.find((c: Obj) => c.name === 'main').image);
                await succeedWorkflowPod(sb.cp, p, domainExecutor, (n) => (n === 'model_version' ? '7' : n === 'data_uri' ? 's3://data/prepared/x' : `${n}-value`));
              }
              return proc.exited() ? true : undefined;
            }, 120000, { proc: domainControllers[env], intervalMs: 250 });
            expect({ task, exit: proc.child.exitCode, log: proc.child.exitCode === 0 ? '' : proc.tail(20) }).toEqual({ task, exit: 0, log: '' });
            const volumes = join(proc.log, '..', 'volumes');
            return { outputs: outputsIn(volumes) };
          }
          if (task === 'gate') return { outputs: () => JSON.stringify({ passed: true }) };
          if (task === 'promote') return { outputs: () => JSON.stringify({ alias: `champion-${env}`, version: '7' }) };
          if (task === 'deploy') return { outputs: () => `http://breast-cancer-${env}.cd4ml.svc.cluster.local:8080` };
          return {};
        };
      }

      test('argo-server lints every delivery template as valid, and the API server stored each', async () => {
        const token = await tokenOf(ci, 'reviewer');
        for (const t of delivery.templates.values()) {
          const json = t.toJson() as Obj;
          const r = await argoPost(`/api/v1/workflow-templates/${ci}/lint`, { namespace: ci, template: json }, token);
          expect({ template: json.metadata.name, status: r.status, body: r.status === 200 ? '' : r.text }).toEqual({ template: json.metadata.name, status: 200, body: '' });
          expect(await get(sb.cp, WF, 'WorkflowTemplate', ci, json.metadata.name)).toBeDefined();
        }
      });

      test('a push to main runs the staging delivery to its end: the version registered, run, gated, promoted and deployed', async () => {
        const revision = sha();
        const r = await send(push('refs/heads/main', revision));
        expect(r.status).toBe(200);
        const name = `cd4ml-delivery-staging-${revision}`;
        // a second commit pushed meanwhile waits for the environment's lock
        const second = sha();
        expect((await send(push('refs/heads/main', second))).status).toBe(200);
        const pipelineRun: { name?: string; pods: string[]; args?: Record<string, string[]> } = { pods: [] };
        const wf = await drive(name, 'staging', realSteps('staging', revision, pipelineRun), (w) => ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase));
        const order = Object.values(wf.status.nodes as Record<string, Obj>).filter((n) => n.type === 'Pod').sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)) || 0).map((n) => `${String(n.displayName).replace(/\(\d+\)$/, '')}:${n.phase}`);
        expect({ phase: wf.status.phase, message: wf.status.message, order }).toEqual({
          phase: 'Succeeded', message: undefined,
          order: ['checkout', 'test', 'build', 'render', 'register', 'run', 'gate', 'promote', 'deploy'].map((t) => `${t}:Succeeded`),
        });
        // the run's output is the endpoint's URL: the DAG's, and the workflow's
        const url = 'http://breast-cancer-staging.cd4ml.svc.cluster.local:8080';
        const dag = Object.values(wf.status.nodes as Record<string, Obj>).find((n) => n.type === 'DAG')!;
        expect({ dag: dag.outputs?.parameters, workflow: wf.status.outputs?.parameters }).toEqual({
          dag: [{ name: 'endpoint', value: url }], workflow: [{ name: 'endpoint', value: url }],
        });
        // the registered version, in the staging domain: named and labelled after the commit (and for the domain's
        // controller), every step on the build by digest; nothing reached the platform's pipeline namespace
        const registered = await get<Obj>(sb.cp, WF, 'WorkflowTemplate', 'ml-staging', `breast-cancer-${revision.slice(0, 12)}`);
        const image = `k3d-registry.localhost:5000/cd4ml-examples@${digest}`;
        expect(registered!.metadata.labels).toMatchObject({ 'cd4ml.io/revision': revision, 'cd4ml.io/pipeline': 'breast-cancer', 'workflows.argoproj.io/controller-instanceid': `${INSTANCE}-staging` });
        expect(await get<Obj>(sb.cp, WF, 'WorkflowTemplate', pipelinesNs, `breast-cancer-${revision.slice(0, 12)}`)).toBeUndefined();
        expect(registered!.metadata.annotations).toMatchObject({ 'cd4ml.io/image': image, 'cd4ml.io/ref': 'refs/heads/main' });
        expect(new Set((registered!.spec.templates as Obj[]).filter((t) => t.container).map((t) => t.container.image))).toEqual(new Set([image]));
        // the staging domain's controller ran it, on that image (prepare-data's cache key names the build: no stale
        // hit), with the domain's accounts, and cached prepare-data in the domain's own cache
        const run = await get<Obj>(sb.cp, WF, 'Workflow', 'ml-staging', pipelineRun.name!);
        expect(run!.metadata.labels['workflows.argoproj.io/controller-instanceid']).toBe(`${INSTANCE}-staging`);
        const cache = await get<Obj>(sb.cp, 'v1', 'ConfigMap', argoNs, 'breast-cancer-cache-staging');
        expect(Object.keys(cache?.data ?? {})).toEqual([expect.stringMatching(/^prepare-data-v1-/)]);
        expect({ phase: run!.status.phase, template: run!.spec.workflowTemplateRef, steps: pipelineRun.pods.length }).toEqual({ phase: 'Succeeded', template: { name: registered!.metadata.name }, steps: 3 });
        expect(new Set(pipelineRun.pods)).toEqual(new Set([image]));
        // the version the run step read from the pipeline's train-model output went to the gate, promote and deploy
        // steps, and the build's digest to promote
        const argAfter = (task: string, flag: string) => pipelineRun.args![task][pipelineRun.args![task].indexOf(flag) + 1];
        expect(['gate', 'promote', 'deploy'].map((t) => argAfter(t, '--version'))).toEqual(['7', '7', '7']);
        expect(argAfter('promote', '--image')).toBe(image);
        expect(argAfter('promote', '--commit')).toBe(revision);
        expect(argAfter('deploy', '--deployment')).toBe('breast-cancer-staging');
        // and the second commit's delivery took the lock once this one released it
        const next = await waitFor('the second delivery to hold the lock', async () => {
          const w = await get<Obj>(sb.cp, WF, 'Workflow', ci, `cd4ml-delivery-staging-${second}`);
          return w?.status?.synchronization?.mutex?.holding?.length ? w : undefined;
        }, 60000, { proc: ciController, intervalMs: 250 });
        expect(next.status.phase).toBe('Running');
      });

      test('kaniko builds only where Pod Security "baseline" admits it: the build step\'s Job runs in the build namespace, its pod refused in the CI namespace', async () => {
        // the kaniko delivery's build step, as its pod runs it (`delivery.py build` with the build account's token)
        const buildNs = kaniko.buildNamespace!;
        const tmpl = kaniko.templates.get(EnvironmentName.DEV)!.toJson() as Obj;
        const build = (tmpl.spec.templates as Obj[]).find((t) => t.name === 'build')!;
        const revision = sha();
        const ref = 'refs/heads/feature/kaniko';
        const subst = (a: string) => a.replace('{{workflow.parameters.revision}}', revision).replace('{{workflow.parameters.repository}}', 'https://gitlab.com/ml/churn-model.git').replace('{{workflow.parameters.ref}}', ref);
        const pod = {
          serviceAccountName: build.serviceAccountName, automountServiceAccountToken: true, securityContext: tmpl.spec.securityContext,
          volumes: (tmpl.spec.volumes as Obj[]).filter((v) => ['tmp', 'scripts', 'build-job'].includes(v.name)),
          containers: [{ ...build.container, args: (build.container.args as string[]).map(subst) }],
        };
        const proc = sb.track(await startContainer({ cp: sb.cp, namespace: gitlab.namespace, pod, container: 'main', hosts: sb.hosts(), path: [pyBin()], name: 'kaniko-build' }));
        // the Job it creates, and the pod the real Job controller makes of it, admitted in the baseline namespace
        const [job] = await waitFor('the build Job', async () => { const j = await list<Obj>(sb.cp, 'batch/v1', 'Job', buildNs); return j.length ? j : undefined; }, 60000, { proc, intervalMs: 250 });
        expect(job.metadata.name).toMatch(new RegExp(`^build-${revision.slice(0, 12)}-[0-9a-f]{6}$`));
        const [builder] = await waitFor('the build pod', async () => { const p = await list<Obj>(sb.cp, 'v1', 'Pod', buildNs, `batch.kubernetes.io/job-name=${job.metadata.name}`); return p.length ? p : undefined; }, 60000, { proc, intervalMs: 250 });
        const k = builder.spec.containers[0];
        expect(Object.fromEntries((k.env as Obj[]).filter((e) => e.name.startsWith('CD4ML_')).map((e) => [e.name, e.value]))).toEqual({
          CD4ML_REVISION: revision, CD4ML_REF: ref, CD4ML_REPOSITORY_HOST_PATH: 'gitlab.com/ml/churn-model.git', CD4ML_DESTINATION: `k3d-registry.localhost:5000/churn-model:${revision}`,
        });
        expect(k.args).toEqual(expect.arrayContaining(['--context=git://$(CD4ML_REPOSITORY_HOST_PATH)#$(CD4ML_REF)#$(CD4ML_REVISION)', '--digest-file=/dev/termination-log']));
        expect(builder.spec.automountServiceAccountToken).toBe(false);
        // the kubelet finishes it as kaniko does: the digest in the container's termination message
        const digestOut = `sha256:${'d1'.repeat(32)}`;
        const now = new Date().toISOString();
        const done = await sb.cp.api<Obj>('PATCH', `/api/v1/namespaces/${buildNs}/pods/${builder.metadata.name}/status`, {
          status: { phase: 'Succeeded', containerStatuses: [{ name: 'kaniko', ready: false, restartCount: 0, image: k.image, imageID: '', started: false, state: { terminated: { exitCode: 0, reason: 'Completed', message: digestOut, startedAt: now, finishedAt: now } } }] },
        }, sb.cp.admin, 'application/merge-patch+json');
        expect(done.status).toBe(200);
        await waitFor('delivery.py build to finish', () => (proc.exited() ? true : undefined), 120000, { proc, intervalMs: 250 });
        expect({ exit: proc.child.exitCode, log: proc.tail(10) }).toEqual({ exit: 0, log: expect.stringContaining(`pushed k3d-registry.localhost:5000/churn-model:${revision}@${digestOut}`) });
        expect(readFileSync(join(proc.log, '..', 'volumes', 'tmp', 'outputs', 'digest'), 'utf8')).toBe(digestOut);
        // the same pod in the CI namespace, which enforces "restricted", is refused by the API server's admission
        const spec = { ...builder.spec };
        delete spec.nodeName;
        const refused = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${gitlab.namespace}/pods?dryRun=All`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kaniko-in-ci' }, spec });
        expect({ status: refused.status, message: refused.body.message }).toEqual({ status: 403, message: expect.stringMatching(/violates PodSecurity "restricted:[^"]*": .*runAsNonRoot/) });
        // and the build account may do nothing else there
        const builderAccount = `system:serviceaccount:${gitlab.namespace}:${build.serviceAccountName}`;
        expect(await can(sb.cp, builderAccount, { verb: 'create', resource: 'jobs', group: 'batch', namespace: buildNs })).toBe(true);
        for (const a of [{ verb: 'delete', resource: 'jobs', group: 'batch', namespace: buildNs }, { verb: 'create', resource: 'pods', namespace: buildNs }, { verb: 'get', resource: 'secrets', namespace: buildNs }, { verb: 'create', resource: 'jobs', group: 'batch', namespace: gitlab.namespace }]) {
          expect({ ...a, allowed: await can(sb.cp, builderAccount, a) }).toEqual({ ...a, allowed: false });
        }
      });

      test('a release tag waits for a reviewer before it promotes; the reviewer\'s account may resume it, the webhook client may not', async () => {
        const revision = sha();
        expect((await send(push('refs/tags/v1.3.0', revision))).status).toBe(200);
        const name = `cd4ml-delivery-prod-${revision}`;
        const pipelineRun: { name?: string; pods: string[] } = { pods: [] };
        const suspended = (w: Obj) => Object.values((w.status?.nodes ?? {}) as Record<string, Obj>).some((n) => n.displayName === 'approve' && n.phase === 'Running');
        const wf = await drive(name, 'prod', realSteps('prod', revision, pipelineRun), suspended);
        expect(Object.values(wf.status.nodes as Record<string, Obj>).some((n) => n.displayName === 'promote')).toBe(false);
        // the webhook client's account cannot resume it; the reviewer's can (argo resume, against the API server)
        // (the argo CLI acts only on runs of its instance ID: the tier's platform has one)
        const argo = (kubeconfig: string) => run(join(tools().argo, 'argo'), ['resume', '-n', ci, name, '--kubeconfig', kubeconfig, '--instanceid', INSTANCE], { allowFail: true, timeoutMs: 30000 });
        const client = writeKubeconfig(scratch('webhook-client'), 'client', { server: sb.cp.admin.server, token: await tokenOf(ci, triggers.serviceAccountName) });
        const refused = argo(client);
        expect({ status: refused.status, forbidden: /forbidden/i.test(refused.stderr) }).toEqual({ status: 1, forbidden: true });
        const resumed = argo(reviewer);
        expect({ status: resumed.status, error: /error|forbidden/i.test(resumed.stderr) ? resumed.stderr : '' }).toEqual({ status: 0, error: '' });
        const done = await drive(name, 'prod', realSteps('prod', revision, pipelineRun), (w) => ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase));
        expect(done.status.phase).toBe('Succeeded');
        expect(Object.values(done.status.nodes as Record<string, Obj>).find((n) => n.displayName === 'approve')!.phase).toBe('Succeeded');
      });
    });
  });

  test('the controller pods created carry our executor and main-container defaults', () => {
    const pod = seen[0];
    const wait = pod.spec.containers.find((c: Obj) => c.name === 'wait');
    const config = sb.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'workflow-controller-configmap' && o.metadata.namespace === argoNs)!.data as Obj;
    expect(wait.resources).toEqual(JSON.parse(config.executor).resources);
    expect(wait.image).toBe(JSON.parse(config.executor).image);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    // the executor's token comes from the Secret we render
    expect((pod.spec.volumes as Obj[]).find((v) => v.name === 'exec-sa-token')?.secret?.secretName).toBe('pipeline-executor.service-account-token');
  });
  test('a step\'s Secrets, endpoint, scratch, shared memory, volume and placement reach the pod the controller creates; a condition skips; the exit handler reads the outcome', async () => {
    // what the team provides: its Secrets and its dataset's claim
    for (const [name, key] of [['warehouse-login', 'password'], ['gcp-key', 'key.json']]) {
      const r = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${pipelinesNs}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { [key]: 'placeholder' } });
      expect(r.status).toBe(201);
    }
    const pvc = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${pipelinesNs}/persistentvolumeclaims`, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'datasets' }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } } });
    expect(pvc.status).toBe(201);
    const before = seen.length;
    const wf = await runToCompletion({ apiVersion: WF, kind: 'Workflow', metadata: { generateName: 'step-options-', namespace: pipelinesNs }, spec: { workflowTemplateRef: { name: 'step-options' } } }, 240000, {
      value: (p) => (p === 'accuracy' ? '0.5' : 'degraded'),
      exitCode: (pod) => (pod.metadata.labels['cd4ml.io/step'] === 'alert' ? 1 : 0),
    });
    const nodes = Object.values(wf.status.nodes as Record<string, Obj>).filter((n) => n.type === 'Pod' || n.type === 'Skipped').map((n) => `${n.displayName}:${n.phase}`).sort();
    // accuracy 0.5 < 0.9 skips register; the degraded verdict runs alert, which fails the run; notify runs anyway
    expect({ phase: wf.status.phase, nodes }).toEqual({ phase: 'Failed', nodes: ['alert:Failed', 'evaluate:Succeeded', 'notify:Succeeded', 'register:Skipped'] });
    const pods = seen.slice(before);
    const podOf = (step: string) => pods.find((p) => p.metadata.labels['cd4ml.io/step'] === step)!;
    // the pod as the API server admitted it (Pod Security "restricted" enforced on the namespace)
    const evaluatePod = podOf('evaluate');
    const main = evaluatePod.spec.containers.find((c: Obj) => c.name === 'main');
    const volume = (name: string) => (evaluatePod.spec.volumes as Obj[]).find((v) => v.name === name);
    expect(volume('tmp')).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '4Gi' } });
    expect(volume('shm')).toEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } });
    expect(volume('secret-gcp')).toEqual({ name: 'secret-gcp', secret: { secretName: 'gcp-key', items: [{ key: 'key.json', path: 'key.json' }], defaultMode: 0o440 } });
    expect(volume('volume-data')).toEqual({ name: 'volume-data', persistentVolumeClaim: { claimName: 'datasets', readOnly: true } });
    expect(main.volumeMounts).toEqual(expect.arrayContaining([
      { name: 'secret-gcp', mountPath: '/var/run/secrets/cd4ml/gcp', readOnly: true },
      { name: 'volume-data', mountPath: '/data', readOnly: true },
      { name: 'shm', mountPath: '/dev/shm' },
    ]));
    expect(main.env).toContainEqual({ name: 'WAREHOUSE_PASSWORD', valueFrom: { secretKeyRef: { name: 'warehouse-login', key: 'password' } } });
    expect(evaluatePod.spec.tolerations).toEqual(expect.arrayContaining([{ key: 'batch', operator: 'Exists', effect: 'NoSchedule' }]));
    // the endpoint's NetworkPolicy, as the API server stored it, selects the evaluate pod and no other of the run
    const policy = await get<Obj>(sb.cp, 'networking.k8s.io/v1', 'NetworkPolicy', pipelinesNs, 'step-options-to-warehouse');
    const selects = (pod: Obj) => Object.entries(policy!.spec.podSelector.matchLabels as Record<string, string>).every(([k, v]) => pod.metadata.labels[k] === v)
      && (policy!.spec.podSelector.matchExpressions as Obj[]).every((e) => e.operator === 'In' && e.values.includes(pod.metadata.labels[e.key]));
    expect(pods.filter(selects).map((p) => p.metadata.labels['cd4ml.io/step'])).toEqual(['evaluate']);
    expect(policy!.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '203.0.113.10/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    // the exit handler's pod was given the run's outcome by the controller
    const notifyEnv = podOf('notify').spec.containers.find((c: Obj) => c.name === 'main').env as Obj[];
    expect(notifyEnv.find((e) => e.name === 'CD4ML_PIPELINE_STATUS')?.value).toBe('Failed');
    const failures = notifyEnv.find((e) => e.name === 'CD4ML_PIPELINE_FAILURES')!.value;
    // Argo quotes the JSON list once more (strconv.Quote in workflow/controller/operator.go, v4.0.5): decode twice
    const failed = JSON.parse(JSON.parse(failures) as string) as Obj[];
    expect(failed.filter((f) => f.podName !== undefined && f.templateName !== 'dag').map((f) => `${f.displayName}:${f.phase}`)).toEqual(['alert:Failed']);
  });
});
