import { Platform, PlatformProps, ServiceType } from '../../../constructs';
import { EnvironmentName, EnvironmentPreset, environmentPreset } from '../../../lib';
import { synth } from '../../support/manifests';
import { chart, problemsOf, refused } from '../inputs/support';

const pod = (m: ReturnType<typeof synth>, kind: string, name: string, ns: string) => m.find(kind, name, ns).spec.template;

describe('per-component settings, with the preset as defaults', () => {
  test('resources, replicas, placement, priority, pod metadata, extra args and env, and the Service, for each component', () => {
    const spot = [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }];
    const m = synth((c) => new Platform(c, 'platform', {
      environment: EnvironmentName.STAGING,
      components: {
        trackingServer: {
          resources: { memory: '2Gi', memoryLimit: '4Gi' }, replicas: 3,
          nodeSelector: { pool: 'system' }, tolerations: spot, priorityClassName: 'platform-critical',
          podAnnotations: { 'prometheus.io/scrape': 'true' }, podLabels: { team: 'ml-platform' },
          extraArgs: ['--gunicorn-opts', '--timeout 120'], extraEnv: { MLFLOW_LOGGING_LEVEL: 'DEBUG' },
          service: { type: ServiceType.LOAD_BALANCER, annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' } },
        },
        database: { nodeSelector: { pool: 'stateful' }, resources: { cpu: '1' } },
        objectStore: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }] } } } },
        workflowController: { priorityClassName: 'platform-critical', extraArgs: ['--workflow-workers', '8'] },
        workflowServer: { replicas: 3, service: { annotations: { 'external-dns.alpha.kubernetes.io/hostname': 'argo.internal.example' } } },
      },
    }));
    const mlflow = m.find('Deployment', 'mlflow', 'cd4ml');
    expect(mlflow.spec.replicas).toBe(3);
    const t = mlflow.spec.template;
    expect(t.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(t.metadata.labels).toMatchObject({ team: 'ml-platform', 'app.kubernetes.io/name': 'mlflow' });
    expect(t.spec).toMatchObject({ nodeSelector: { pool: 'system' }, tolerations: spot, priorityClassName: 'platform-critical' });
    const main = t.spec.containers[0];
    expect(main.resources.requests.memory).toBe('2Gi');
    expect(main.resources.limits.memory).toBe('4Gi');
    expect(main.resources.requests.cpu).toBe(environmentPreset(EnvironmentName.STAGING).trackingServer.resources.cpu); // the rest from the preset
    expect(main.args.slice(-2)).toEqual(['--gunicorn-opts', '--timeout 120']);
    expect(main.env).toContainEqual({ name: 'MLFLOW_LOGGING_LEVEL', value: 'DEBUG' });
    // the init container is left alone
    expect(t.spec.initContainers[0].env).not.toContainEqual({ name: 'MLFLOW_LOGGING_LEVEL', value: 'DEBUG' });
    const service = m.find('Service', 'mlflow', 'cd4ml');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations).toEqual({ 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' });
    expect(pod(m, 'StatefulSet', 'postgres', 'cd4ml').spec.nodeSelector).toEqual({ pool: 'stateful' });
    expect(pod(m, 'StatefulSet', 'postgres', 'cd4ml').spec.containers[0].resources.requests.cpu).toBe('1');
    expect(pod(m, 'StatefulSet', 'seaweedfs', 'cd4ml').spec.affinity.nodeAffinity).toBeDefined();
    const controller = pod(m, 'Deployment', 'workflow-controller', 'argo');
    expect(controller.spec.priorityClassName).toBe('platform-critical');
    expect(controller.spec.containers[0].args.slice(-2)).toEqual(['--workflow-workers', '8']);
    expect(m.find('Deployment', 'argo-server', 'argo').spec.replicas).toBe(3);
    expect(m.find('Service', 'argo-server', 'argo').metadata.annotations).toEqual({ 'external-dns.alpha.kubernetes.io/hostname': 'argo.internal.example' });
    // untouched components keep ClusterIP and no extras
    expect(m.find('Service', 'postgres', 'cd4ml').spec.type).toBe('ClusterIP');
  });

  test('a preset of the team\'s own is an object, checked section by section', () => {
    const lean: EnvironmentPreset = {
      ...environmentPreset(EnvironmentName.DEV),
      trackingServer: { resources: { cpu: '200m', memory: '640Mi', memoryLimit: '1Gi' }, replicas: 2, workers: 3 },
      pipelineQuota: { cpu: '24', memory: '96Gi', memoryLimit: '128Gi', gpus: 0, pods: 300 },
    };
    const m = synth((c) => new Platform(c, 'platform', { environment: EnvironmentName.DEV, preset: lean }));
    expect(m.find('Deployment', 'mlflow', 'cd4ml').spec.replicas).toBe(2);
    expect(m.find('Deployment', 'mlflow', 'cd4ml').spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--workers', '3']));
    expect(m.find('ResourceQuota', 'pipelines', 'ml-pipelines').spec.hard['requests.cpu']).toBe('24');
    const broken = { ...lean, trackingServer: { resources: { cpu: 'lots', memory: '1Gi', memoryLimit: '512Mi' }, replicas: 0, workers: 1 }, extra: {} } as unknown as EnvironmentPreset;
    const { stepDefaults: _gone, ...partial } = lean;
    expect(problemsOf(() => new Platform(chart(), 'platform', { preset: broken })).map((p) => p.field).sort()).toEqual(
      ['preset.extra', 'preset.trackingServer.replicas', 'preset.trackingServer.resources.cpu', 'preset.trackingServer.resources.memoryLimit'].sort(),
    );
    expect(problemsOf(() => new Platform(chart(), 'platform', { preset: partial as EnvironmentPreset })).map((p) => `${p.field}: ${p.message}`)).toEqual(['preset.stepDefaults: is missing']);
    // a section that is not one is reported, and the environment's preset builds the rest (no TypeError)
    expect(problemsOf(() => new Platform(chart(), 'platform', { preset: { ...lean, trackingServer: null } as unknown as EnvironmentPreset })).map((p) => `${p.field}: ${p.message}`)).toEqual(['preset.trackingServer: is null, not a section of a preset']);
  });

  test('bad component settings are refused under the field the user wrote, with a fix that passes', () => {
    const build = (props: PlatformProps) => () => new Platform(chart(), 'platform', props);
    refused((v) => build({ components: { trackingServer: { priorityClassName: v as string } } })(), 'Platform Critical', 'components.trackingServer.priorityClassName');
    refused((v) => build({ components: { database: { resources: { cpu: v as string } } } })(), '2 cores', 'components.database.resources.cpu');
    refused((v) => build({ components: { trackingServer: { service: { type: v as ServiceType } } } })(), 'Internal', 'components.trackingServer.service.type');
    const many = problemsOf(build({ components: { database: { replicas: 2 }, workflowController: { service: { type: ServiceType.NODE_PORT } }, mlflow: {} } as never }));
    expect(many.map((p) => `${p.field}: ${p.message}`)).toEqual([
      'components.mlflow: is not a component of the platform',
      'components.database.replicas: is set, but database runs one replica',
      'components.workflowController.service: is set, but the controller has no Service',
    ]);
    // no credential in plain text, no override of what cd4ml sets, no change to the selector
    const secretArg = problemsOf(build({ components: { trackingServer: { extraEnv: { DB_URL: 'postgresql://mlflow:hunter2@db/mlflow' } } } }));
    expect(secretArg.map((p) => `${p.field} = ${JSON.stringify(p.value)}`)).toEqual(['components.trackingServer.extraEnv.DB_URL = "(redacted)"']);
    // flags that decide security are cd4ml's; a flag it sets is not set twice; a value after a credential flag is refused unseen
    const flags = problemsOf(build({ components: {
      workflowServer: { extraArgs: ['--auth-mode', 'server'] },
      trackingServer: { extraArgs: ['--allowed-hosts=*', '--workers', '8', '--password', 'hunter2hunter2'] },
    } }));
    expect(flags.map((p) => `${p.path} ${p.field} = ${JSON.stringify(p.value)}: ${p.message}`)).toEqual([
      'test/platform components.trackingServer.extraArgs[0] = "--allowed-hosts=*": sets --allowed-hosts, which decides the component\'s security and is cd4ml\'s to set',
      'test/platform components.trackingServer.extraArgs[4] = "(redacted)": follows --password, so it looks like a credential, which would be written into the manifests in plain text',
      'test/platform components.workflowServer.extraArgs[0] = "--auth-mode": sets --auth-mode, which decides the component\'s security and is cd4ml\'s to set',
    ]);
    const twice = problemsOf(build({ components: { trackingServer: { extraArgs: ['--workers', '8'] }, database: { affinity: { nodeAffinity: 5 } as never } } }));
    expect(twice.map((p) => `${p.field}: ${p.message}`)).toEqual(['components.database.affinity.nodeAffinity: is a number, not a node affinity']);
    const again = problemsOf(() => new Platform(chart(), 'platform', { components: { trackingServer: { extraArgs: ['--workers', '8'] } } }));
    // (reported once the rest is valid: by the MLflow Deployment, which knows its own flags)
    expect(again.map((p) => `${p.path} ${p.field}: ${p.message}`)).toEqual(['test/platform/TrackingServer pod.extraArgs[0]: sets --workers again, which cd4ml already sets']);
    const override = problemsOf(build({ components: { trackingServer: { extraEnv: { MLFLOW_BACKEND_STORE_URI: 'sqlite:///x.db' }, podLabels: { 'app.kubernetes.io/name': 'other' } } } }));
    expect(override.map((p) => `${p.path} ${p.field}: ${p.message}`)).toEqual([
      'test/platform/TrackingServer pod.extraEnv.MLFLOW_BACKEND_STORE_URI: is set by cd4ml itself, which it would override',
      'test/platform/TrackingServer pod.podLabels["app.kubernetes.io/name"]: is a label cd4ml selects the pods by',
    ]);
  });
});
