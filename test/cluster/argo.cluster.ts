import { Condition, ParameterType, Pipeline, SecretRef } from '../../constructs';
import { EnvironmentName } from '../../lib';
import { get, list } from './support/apply';
import { startContainer } from './support/local-pod';
import { waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { createNode, runningWorkflowPods, succeedWorkflowPod } from './support/simulated-node';
import { tools } from './support/tools';
import { podTemplate, serviceAccountToken } from './support/workloads';

// Argo's workflow controller for real: run as its Deployment would (its args, the ConfigMap we render, its own
// service account's token, the archive in the real Postgres), namespaced as we render it. Pipelines are submitted
// as users submit them; the pods the controller creates are checked as the API server admitted them, and a
// simulated node finishes them the way the executor reports results, so the DAG moves on.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const WF = 'argoproj.io/v1alpha1';
// the controller runs with an Argo instance ID: it handles only workflows labelled with it, as argo-server labels the
// ones it submits and our schedules label theirs; the workflows this file creates itself carry it too
const INSTANCE = 'cd4ml-tier';
const INSTANCE_LABEL = { 'workflows.argoproj.io/controller-instanceid': INSTANCE };

describe('the seed pipeline on the real Argo workflow controller', () => {
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
  }, { workflowInstanceId: INSTANCE });
  const pipelinesNs = sb.find('LimitRange', 'pipelines').metadata.namespace!;
  const argoNs = sb.find('Deployment', 'workflow-controller').metadata.namespace!;
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
    }, timeoutMs, { intervalMs: 1000, proc: controllerProc });
  }

  let controllerProc: Awaited<ReturnType<typeof startContainer>>;

  beforeAll(async () => {
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    await sb.startPostgres();
    await createNode(sb.cp);
    const deployment = sb.find('Deployment', 'workflow-controller');
    controllerProc = sb.track(await startContainer({
      cp: sb.cp, namespace: argoNs, pod: podTemplate(deployment).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo],
    }));
    executor = { server: sb.cp.admin.server, token: await serviceAccountToken(sb.cp, pipelinesNs, 'pipeline-executor.service-account-token') };
  });
  afterAll(async () => { await sb.stop(); });

  test('the controller starts with the ConfigMap we render, its own token and the archive in Postgres', async () => {
    await waitFor('the controller to serve /healthz', async () => ((await fetch('http://127.0.0.1:6060/healthz').catch(() => undefined))?.ok ? true : undefined), 90000, { proc: controllerProc, intervalMs: 1000 });
    // the archive migrated its tables into the argo database with the argo role
    await waitFor('the archive tables', () => (sb.postgres!.sql(`SELECT count(*) FROM pg_tables WHERE tablename = 'argo_archived_workflows'`, 'argo') === '1' ? true : undefined), 60000, { proc: controllerProc });
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
    let base: string;
    let triggerToken: string;
    let server: Awaited<ReturnType<typeof startContainer>>;
    /** POST to argo-server over TLS (its self-signed certificate: loopback only). */
    const post = async (path: string, body: unknown, token?: string): Promise<{ status: number; text: string }> => {
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
    const byTrigger = async (trigger: string) => list<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, `cd4ml.io/trigger=${trigger}`);

    beforeAll(async () => {
      const deployment = sb.find('Deployment', 'argo-server');
      server = sb.track(await startContainer({
        cp: sb.cp, namespace: argoNs, pod: podTemplate(deployment).spec, container: 'argo-server', hosts: sb.hosts(), path: [tools().argo], entrypoint: ['argo'],
      }));
      const port = ((deployment.spec as Obj).template.spec.containers[0].ports as Obj[]).find((p) => p.name === 'web')!.containerPort;
      base = `https://127.0.0.1:${port}`;
      triggerToken = await serviceAccountToken(sb.cp, pipelinesNs, 'pipeline-trigger-token');
      // its HTTP gateway answers before its own gRPC client has connected (it retries with backoff): wait for an
      // event that matches no binding to be accepted
      await waitFor('argo-server to accept events', async () => ((await post(`/api/v1/events/${pipelinesNs}/cd4ml-readiness`, {}, triggerToken).catch(() => undefined))?.status === 200 ? true : undefined), 120000, { proc: server, intervalMs: 1000 });
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
      // an object written elsewhere (our own outputs under prepared/) triggers nothing
      await post(`/api/v1/events/${pipelinesNs}/breast-cancer-new-data`, { EventName: 's3:ObjectCreated:Put', Key: 'data/prepared/b.csv' }, triggerToken);
      await new Promise((res) => setTimeout(res, 3000));
      expect(await byTrigger('new-data')).toHaveLength(1);
      const done = await waitFor(`Workflow ${wf.metadata.name} to finish`, async () => {
        for (const pod of await runningWorkflowPods(sb.cp, pipelinesNs)) {
          if (pod.metadata.labels['workflows.argoproj.io/workflow'] === wf.metadata.name) await succeedWorkflowPod(sb.cp, pod, executor, (p) => `${p}-value`);
        }
        const w = await get<Obj>(sb.cp, WF, 'Workflow', pipelinesNs, wf.metadata.name);
        return ['Succeeded', 'Failed', 'Error'].includes(w?.status?.phase) ? w : undefined;
      }, 240000, { intervalMs: 1000, proc: controllerProc });
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

  test('the controller pods created carry our executor and main-container defaults', () => {
    const pod = seen[0];
    const wait = pod.spec.containers.find((c: Obj) => c.name === 'wait');
    const config = sb.find('ConfigMap', 'workflow-controller-configmap').data as Obj;
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
