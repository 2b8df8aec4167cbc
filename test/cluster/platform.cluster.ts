import { Testing } from 'cdk8s';
import { EnvironmentName, ENVIRONMENT_NAMES } from '../../lib';
import { buildApp } from '../../stacks/app';
import { apply, get, KubeObject } from './support/apply';
import { ControlPlane } from './support/control-plane';
import { can, podsOf, resourceDrift, serviceAccountToken } from './support/workloads';

// What users apply, applied to a real API server (RBAC, PodSecurity, LimitRanger, ResourceQuota admission) with
// the controller manager making pods from our workloads: for every environment preset, each on a fresh control plane.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The objects of one environment, platform first, as `npm run synth` writes them. */
function synthesized(env: EnvironmentName): { platform: KubeObject[]; pipelines: KubeObject[] } {
  const { platform, pipelines } = buildApp(env, '/tmp/cd4ml-unused');
  return { platform: Testing.synth(platform) as KubeObject[], pipelines: Testing.synth(pipelines) as KubeObject[] };
}

const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
const ARGO = 'argoproj.io';

/**
 * The Kubernetes calls each component's upstream code makes, which its service account must be allowed, and calls
 * it must not be able to make. Sources: argo-workflows v4.0.5 (module source), files as cited.
 */
function rbacExpectations(ns: { platform: string; argo: string; pipelines: string; others: string[] }, archiveSecret: string, cacheMaps: string[], own = { controller: 'workflow-controller', configMap: 'workflow-controller-configmap', lease: 'workflow-controller', otherLeases: [] as string[], server: true }) {
  const controller = sa(ns.argo, own.controller);
  const server = sa(ns.argo, 'argo-server');
  const executor = sa(ns.pipelines, 'pipeline-executor');
  const runner = sa(ns.pipelines, 'pipeline-runner');
  type Call = { verb: string; resource: string; group?: string; namespace?: string; name?: string; subresource?: string; why: string };
  const allowed: Array<[string, Call]> = [
    // workflow-controller
    [controller, { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: ns.argo, why: 'cmd/workflow-controller/main.go leader election' }],
    [controller, { verb: 'get', resource: 'leases', group: 'coordination.k8s.io', namespace: ns.argo, name: own.lease, why: 'cmd/workflow-controller/main.go leader election (workflow-controller[-<instanceID>])' }],
    [controller, { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: ns.argo, name: own.lease, why: 'cmd/workflow-controller/main.go leader election' }],
    [controller, { verb: 'watch', resource: 'configmaps', namespace: ns.argo, why: 'config/controller.go: watches its ConfigMap' }],
    [controller, { verb: 'get', resource: 'secrets', namespace: ns.argo, name: archiveSecret, why: 'util/sqldb/sqldb.go: archive credentials' }],
    ...cacheMaps.flatMap((name): Array<[string, Call]> => [
      [controller, { verb: 'get', resource: 'configmaps', namespace: ns.argo, name, why: 'cache/configmap_cache.go Load (controller namespace)' }],
      [controller, { verb: 'update', resource: 'configmaps', namespace: ns.argo, name, why: 'cache/configmap_cache.go Save (controller namespace)' }],
    ]),
    [controller, { verb: 'create', resource: 'pods', namespace: ns.pipelines, why: 'workflow/controller/workflowpod.go' }],
    [controller, { verb: 'watch', resource: 'pods', namespace: ns.pipelines, why: 'workflow/controller/pod/controller.go informer' }],
    [controller, { verb: 'patch', resource: 'pods', namespace: ns.pipelines, why: 'pod/queue.go' }],
    [controller, { verb: 'delete', resource: 'pods', namespace: ns.pipelines, why: 'pod GC' }],
    [controller, { verb: 'create', resource: 'pods', subresource: 'exec', namespace: ns.pipelines, why: 'workflow/signal/signal.go' }],
    [controller, { verb: 'watch', resource: 'configmaps', namespace: ns.pipelines, why: 'controller.go configmap informer' }],
    [controller, { verb: 'get', resource: 'serviceaccounts', namespace: ns.pipelines, why: 'operator.go: the executor service account' }],
    [controller, { verb: 'update', resource: 'workflows', group: ARGO, namespace: ns.pipelines, why: 'operator.go persistUpdates' }],
    [controller, { verb: 'deletecollection', resource: 'workflowtaskresults', group: ARGO, namespace: ns.pipelines, why: 'operator.go taskresult cleanup' }],
    [controller, { verb: 'watch', resource: 'workflowtaskresults', group: ARGO, namespace: ns.pipelines, why: 'taskresult.go informer' }],
    [controller, { verb: 'watch', resource: 'workflowtemplates', group: ARGO, namespace: ns.pipelines, why: 'controller.go template informer' }],
    [controller, { verb: 'patch', resource: 'cronworkflows', group: ARGO, namespace: ns.pipelines, why: 'cron/operator.go' }],
    [controller, { verb: 'create', resource: 'events', namespace: ns.pipelines, why: 'workflow/events/event_recorder_manager.go' }],
    // argo-server (its own identity, in every auth mode)
    [server, { verb: 'get', resource: 'configmaps', namespace: ns.argo, why: 'server/apiserver/argoserver.go reads the controller ConfigMap' }],
    [server, { verb: 'get', resource: 'secrets', namespace: ns.argo, name: archiveSecret, why: 'server/apiserver/argoserver.go opens the archive' }],
    [server, { verb: 'watch', resource: 'workflowtemplates', group: ARGO, namespace: ns.pipelines, why: 'server/workflowtemplate/informer.go' }],
    [server, { verb: 'watch', resource: 'workflows', group: ARGO, namespace: ns.pipelines, why: 'server/workflow/store (workflow cache)' }],
    [server, { verb: 'create', resource: 'events', namespace: ns.pipelines, why: 'server/event/dispatch/operation.go WorkflowEventBindingError' }],
    // the executor (wait container)
    [executor, { verb: 'create', resource: 'workflowtaskresults', group: ARGO, namespace: ns.pipelines, why: 'workflow/executor/taskresult.go' }],
    [executor, { verb: 'patch', resource: 'workflowtaskresults', group: ARGO, namespace: ns.pipelines, why: 'workflow/executor/taskresult.go' }],
  ];
  const denied: Array<[string, Call]> = [
    [controller, { verb: 'create', resource: 'pods', namespace: 'kube-system', why: 'pods outside the managed namespace' }],
    [controller, { verb: 'list', resource: 'secrets', namespace: ns.pipelines, why: 'listing Secrets' }],
    [controller, { verb: 'update', resource: 'configmaps', namespace: ns.argo, name: own.configMap, why: 'rewriting its own config' }],
    ...ns.others.map((other): [string, Call] => [controller, { verb: 'create', resource: 'pods', namespace: other, why: 'pods in another pipeline namespace (another domain\'s)' }]),
    ...own.otherLeases.map((lease): [string, Call] => [controller, { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: ns.argo, name: lease, why: 'another controller\'s leader election' }]),
    [controller, { verb: 'create', resource: 'clusterroles', group: 'rbac.authorization.k8s.io', why: 'cluster RBAC' }],
    [server, { verb: 'create', resource: 'workflows', group: ARGO, namespace: ns.pipelines, why: 'client mode: calls carry the caller\'s token' }],
    [server, { verb: 'get', resource: 'secrets', namespace: ns.pipelines, name: 'pipeline-trigger-token', why: 'the trigger token' }],
    [server, { verb: 'create', resource: 'pods', namespace: ns.pipelines, why: 'pods' }],
    [executor, { verb: 'get', resource: 'secrets', namespace: ns.pipelines, why: 'Secrets' }],
    [executor, { verb: 'get', resource: 'pods', namespace: ns.pipelines, why: 'pods' }],
    [executor, { verb: 'get', resource: 'workflows', group: ARGO, namespace: ns.pipelines, why: 'workflows' }],
    [runner, { verb: 'list', resource: 'pods', namespace: ns.pipelines, why: 'step code has no API rights' }],
    [runner, { verb: 'get', resource: 'secrets', namespace: ns.pipelines, name: 'pipeline-executor.service-account-token', why: 'the executor token' }],
  ];
  // argo-server serves the platform's pipeline namespace only
  const isServer = ([user]: [string, Call]) => user === server;
  return { allowed: own.server ? allowed : allowed.filter((c) => !isServer(c)), denied: own.server ? denied : denied.filter((c) => !isServer(c)) };
}

describe.each(ENVIRONMENT_NAMES)('the %s platform on a real API server', (env) => {
  let cp: ControlPlane;
  const { platform, pipelines } = synthesized(env);
  const all = [...platform, ...pipelines];
  const nsOf = (component: string) => all.find((o) => o.kind === 'Deployment' && o.metadata.name === component)!.metadata.namespace!;

  beforeAll(async () => {
    cp = await ControlPlane.start();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  test('the API server accepts every object, server-side with strict field validation, in our order', async () => {
    // every Namespace first, as every apply order has it (the GitOps layout's cluster folder, the cdk8s CLI's single
    // file, Pulumi's dependencies): the platform's generator copies Secrets into the delivery's CI namespace
    await apply(cp, all.filter((o) => o.kind === 'Namespace'));
    await apply(cp, platform.filter((o) => o.kind !== 'Namespace'));
    await apply(cp, pipelines.filter((o) => o.kind !== 'Namespace'));
    for (const o of all.filter((x) => x.kind === 'Namespace')) {
      // restricted is enforced for real: the labels are on the server's namespace
      expect((await get<Obj>(cp, 'v1', 'Namespace', undefined, o.metadata.name))?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    }
  });

  test('the controllers make a pod from every workload, admitted under restricted, with exactly the declared resources', async () => {
    const pods = await podsOf(cp, all);
    expect([...pods.keys()].length).toBe(all.filter((o) => ['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(o.kind)).length);
    const drift = [...pods.values()].flatMap(({ workload, pods: ps }) => ps.flatMap((p) => resourceDrift(workload, p).map((d) => `${workload.kind} ${workload.metadata.name}: ${d}`)));
    expect(drift).toEqual([]);
  });

  test('a pod that names no GPU gets none, whatever the runner\'s GPU settings', async () => {
    // given a container with no resources at all in the pipeline namespace, as Argo's init and wait containers may be
    const ns = all.find((o) => o.kind === 'LimitRange')!.metadata.namespace!;
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: ns },
      spec: {
        automountServiceAccountToken: false, serviceAccountName: 'pipeline-runner',
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ name: 'c', image: 'busybox:1.37', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
      },
    };
    // when the server admits it
    const r = await cp.api<Obj>('POST', `/api/v1/namespaces/${ns}/pods`, pod);
    expect({ status: r.status, message: r.body.message }).toEqual({ status: 201, message: undefined });
    // then the LimitRange filled cpu and memory, and no GPU
    const resources = r.body.spec.containers[0].resources;
    expect(Object.keys(resources.limits ?? {}).filter((k) => k.includes('gpu'))).toEqual([]);
    expect(Object.keys(resources.requests ?? {}).filter((k) => k.includes('gpu'))).toEqual([]);
  });

  if (env !== EnvironmentName.SANDBOX) {
    test('the GPU cap per step is enforced by the API server', async () => {
      const ns = all.find((o) => o.kind === 'LimitRange')!.metadata.namespace!;
      const policy = all.find((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name.startsWith('cd4ml-gpu-per-step.'))!;
      const max = Number(/compareTo\(quantity\('(\d+)'\)\)/.exec(JSON.stringify(policy.spec))![1]);
      const gpuPod = (name: string, gpus: number) => ({
        apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
        spec: {
          automountServiceAccountToken: false, serviceAccountName: 'pipeline-runner',
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'c', image: 'busybox:1.37', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '64Mi', 'nvidia.com/gpu': String(gpus) } }, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        },
      });
      // the policy is served once its binding is; give the admission plugin time to load it
      let over: { status: number; body: Obj } = { status: 0, body: {} };
      for (let i = 0; i < 40; i++) {
        over = await cp.api<Obj>('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, gpuPod('too-many', max + 1));
        if (over.status !== 201) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      expect(over.status).toBe(422);
      expect(over.body.message).toContain(`more than ${max} nvidia.com/gpu`);
      const ok = await cp.api<Obj>('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, gpuPod('enough', max));
      expect({ status: ok.status, message: ok.body.message }).toEqual({ status: 201, message: undefined });
    });
  }

  test('the executor token Secret the controller mounts into step pods exists and is filled', async () => {
    const secret = all.find((o) => o.kind === 'Secret' && o.metadata.name === 'pipeline-executor.service-account-token')!;
    expect(await serviceAccountToken(cp, secret.metadata.namespace!, secret.metadata.name)).toMatch(/^ey/);
  });

  test('each component may make the calls its upstream code makes, and not others (the real authorizer)', async () => {
    const argoNs = nsOf('workflow-controller');
    const persistence = JSON.parse(String((all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'workflow-controller-configmap')!.data as Obj).persistence));
    // every workflow controller (the platform's, and each pipeline domain's) with the namespace it manages, and the
    // caches its namespace's pipelines memoize into
    const controllers = all.filter((o) => o.kind === 'Deployment' && o.metadata.namespace === argoNs && o.metadata.name.startsWith('workflow-controller')).map((d) => {
      const args = (d.spec as Obj).template.spec.containers[0].args as string[];
      const configMap = args[args.indexOf('--configmap') + 1];
      // the Lease is named after the instance ID (cmd/workflow-controller/main.go)
      const instanceId = (all.find((o) => o.kind === 'ConfigMap' && o.metadata.namespace === argoNs && o.metadata.name === configMap)!.data as Obj).instanceID;
      const lease = instanceId === undefined ? 'workflow-controller' : `workflow-controller-${JSON.parse(instanceId)}`;
      return { controller: d.metadata.name, configMap, managed: args[args.indexOf('--managed-namespace') + 1], lease };
    });
    const pipelineNamespaces = controllers.map((c) => c.managed);
    const cachesOf = (ns: string) => [...new Set(all.filter((o) => o.kind === 'WorkflowTemplate' && o.metadata.namespace === ns)
      .flatMap((t) => ((t.spec as Obj).templates as Obj[]).map((x) => x.memoize?.cache?.configMap?.name).filter((n): n is string => typeof n === 'string')))];
    const allowed: ReturnType<typeof rbacExpectations>['allowed'] = [];
    const denied: ReturnType<typeof rbacExpectations>['denied'] = [];
    for (const c of controllers) {
      const e = rbacExpectations({ platform: nsOf('mlflow'), argo: argoNs, pipelines: c.managed, others: pipelineNamespaces.filter((n) => n !== c.managed) }, persistence.postgresql.passwordSecret.name, cachesOf(c.managed), { ...c, otherLeases: controllers.filter((o) => o !== c).map((o) => o.lease), server: c.controller === 'workflow-controller' });
      allowed.push(...e.allowed);
      denied.push(...e.denied);
      // and no other domain's cache
      for (const name of pipelineNamespaces.filter((n) => n !== c.managed).flatMap(cachesOf)) denied.push([sa(argoNs, c.controller), { verb: 'update', resource: 'configmaps', namespace: argoNs, name, why: 'another domain\'s cache' }]);
    }
    expect(controllers.length).toBe(env === EnvironmentName.SANDBOX ? 4 : 1);
    const wrong: string[] = [];
    for (const [user, call] of allowed) if (!(await can(cp, user, call))) wrong.push(`denied but needed: ${user} ${call.verb} ${call.resource}${call.subresource ? `/${call.subresource}` : ''} ${call.name ?? ''} in ${call.namespace ?? 'cluster'} (${call.why})`);
    for (const [user, call] of denied) if (await can(cp, user, call)) wrong.push(`allowed but must not be: ${user} ${call.verb} ${call.resource} ${call.name ?? ''} in ${call.namespace ?? 'cluster'} (${call.why})`);
    expect(wrong).toEqual([]);
  });
});

// Every Pulumi stack's plan (what `pulumi up --stack X` registers, worked out by the stack program from its
// Pulumi.<stack>.yaml), each applied to a fresh control plane (sandbox and dev share namespace names).
describe('every Pulumi stack\'s plan on a real API server', () => {
  const stacks = ['sandbox', 'dev', 'staging', 'prod'];
  const TEST_SECRETS: Record<string, string> = {
    'cd4ml:s3MlflowAccessKeyId': 'AKIA-mlflow', 'cd4ml:s3MlflowSecretAccessKey': 's3-secret-mlflow',
    'cd4ml:s3WorkflowsAccessKeyId': 'AKIA-workflows', 'cd4ml:s3WorkflowsSecretAccessKey': 's3-secret-workflows',
    'cd4ml:s3PipelinesAccessKeyId': 'AKIA-pipelines', 'cd4ml:s3PipelinesSecretAccessKey': 's3-secret-pipelines',
    'cd4ml:trackingDbUsername': 'mlflow', 'cd4ml:trackingDbPassword': 'tracking-pw-test',
    'cd4ml:archiveDbUsername': 'argo', 'cd4ml:archiveDbPassword': 'archive-pw-test',
  };
  /** The plan's objects, with the Secrets Pulumi would create from secret config, in the order the program registers them. */
  function plan(stack: string): KubeObject[] {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { parse } = require('yaml');
    const { readFileSync } = require('fs');
    const { join } = require('path');
    const { parseStackConfig, readDefinition } = require('../../stacks/config');
    const { planStack } = require('../../stacks/app');
    const { synthesizeEnvironment } = require('../../constructs');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const file = parse(readFileSync(join(__dirname, '..', '..', `Pulumi.${stack}.yaml`), 'utf8')).config as Record<string, unknown>;
    const secrets = stack === 'prod' ? TEST_SECRETS : {};
    const config = Object.fromEntries(Object.entries({ ...file, ...secrets }).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    // the stack's plan, as the Pulumi program makes it: the environment's definition and the stack's secrets
    const p = planStack(parseStackConfig(stack, config, Object.keys(secrets), readDefinition(stack)));
    const synthesized = synthesizeEnvironment(p.definition);
    const objects = [...synthesized.platformObjects, ...synthesized.pipelineObjects] as KubeObject[];
    const configSecrets = (p.externalSecrets as Array<{ ref: { secretName: string; requiredIn: string[] }; configKeys: Record<string, string> }>).flatMap(({ ref, configKeys }) => ref.requiredIn.map((namespace) => ({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: ref.secretName, namespace },
      stringData: Object.fromEntries(Object.entries(configKeys).map(([k, configKey]) => [k, TEST_SECRETS[`cd4ml:${configKey}`] ?? 'x'])),
    }) as unknown as KubeObject));
    // namespaces and CRDs first, then the Secrets from config, then the rest (component.ts)
    const first = objects.filter((o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition');
    return [...first, ...configSecrets, ...objects.filter((o) => !first.includes(o))];
  }
  let cp: ControlPlane | undefined;
  afterEach(async () => { await cp?.stop(); cp = undefined; });

  test.each(stacks)('the %s stack: every object accepted, every workload\'s pods admitted with the declared resources', async (stack) => {
    const objects = plan(stack);
    cp = await ControlPlane.start();
    await apply(cp, objects);
    const pods = await podsOf(cp, objects);
    const drift = [...pods.values()].flatMap(({ workload, pods: ps }) => ps.flatMap((p) => resourceDrift(workload, p).map((d) => `${workload.kind} ${workload.metadata.name}: ${d}`)));
    expect(drift).toEqual([]);
    const executorToken = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'pipeline-executor.service-account-token')!;
    expect(await serviceAccountToken(cp, executorToken.metadata.namespace!, executorToken.metadata.name)).toMatch(/^ey/);
  });
});
