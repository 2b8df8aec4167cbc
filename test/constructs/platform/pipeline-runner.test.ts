import { Platform, PlatformProps } from '../../../constructs';
import { synth } from '../../support/manifests';

const platform = (props: PlatformProps = {}) => synth((chart) => new Platform(chart, 'platform', props));

describe('PipelineRunner', () => {
  const m = platform();

  test('lets the Argo executor do exactly one thing: report task results', () => {
    expect(m.find('Role', 'pipeline-executor', 'ml-pipelines').rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }]);
    expect(m.find('ServiceAccount', 'pipeline-executor', 'ml-pipelines').automountServiceAccountToken).toBe(true);
    expect(m.find('ServiceAccount', 'pipeline-runner', 'ml-pipelines').automountServiceAccountToken).toBe(false);
    expect(m.all('RoleBinding').filter((b) => b.metadata.namespace === 'ml-pipelines' && b.subjects.some((s: { name: string }) => s.name === 'pipeline-runner'))).toEqual([]);
  });

  test('renders the executor token Secret the workflow controller mounts into step pods', () => {
    // Argo mounts `<executor sa>.service-account-token` when a pod does not automount its token (util/secrets/secret_name.go)
    expect(m.find('Secret', 'pipeline-executor.service-account-token', 'ml-pipelines')).toMatchObject({
      type: 'kubernetes.io/service-account-token',
      metadata: { annotations: { 'kubernetes.io/service-account.name': 'pipeline-executor' } },
    });
    expect(m.find('Secret', 'pipeline-executor.service-account-token', 'ml-pipelines').data).toBeUndefined();
  });

  test('bounds the namespace with a quota and gives steps default requests and limits', () => {
    expect(m.find('ResourceQuota', 'pipelines', 'ml-pipelines').spec.hard).toEqual({
      'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.memory': '12Gi', 'requests.nvidia.com/gpu': 0, 'pods': 50,
    });
    expect(m.find('LimitRange', 'pipelines', 'ml-pipelines').spec.limits).toEqual([{ type: 'Container', defaultRequest: { cpu: '250m', memory: '512Mi' }, default: { memory: '1Gi' } }]);
  });

  test('publishes the step defaults: tracking URI and S3 endpoint by ConfigMap, credentials by Secret', () => {
    expect(m.find('ConfigMap', 'pipeline-defaults', 'ml-pipelines').data).toEqual({
      MLFLOW_TRACKING_URI: 'http://mlflow.cd4ml.svc.cluster.local:5000',
      MLFLOW_S3_ENDPOINT_URL: 'http://seaweedfs.cd4ml.svc.cluster.local:8333',
      AWS_DEFAULT_REGION: 'us-east-1',
      MLFLOW_DISABLE_TELEMETRY: 'true',
      DO_NOT_TRACK: 'true',
      CD4ML_BUCKET_DATA: 'data',
    });
    let env: unknown[] = [];
    synth((chart) => { env = new Platform(chart, 'p').pipelineRunner.stepEnv(); });
    expect(env).toEqual([
      { name: 'MLFLOW_TRACKING_URI', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'MLFLOW_TRACKING_URI' } } },
      { name: 'MLFLOW_S3_ENDPOINT_URL', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'MLFLOW_S3_ENDPOINT_URL' } } },
      { name: 'AWS_DEFAULT_REGION', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'AWS_DEFAULT_REGION' } } },
      { name: 'CD4ML_BUCKET_DATA', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'CD4ML_BUCKET_DATA' } } },
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'seaweedfs-pipelines', key: 'AWS_ACCESS_KEY_ID' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'seaweedfs-pipelines', key: 'AWS_SECRET_ACCESS_KEY' } } },
      { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-user-pipelines', key: 'MLFLOW_TRACKING_USERNAME' } } },
      { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-user-pipelines', key: 'MLFLOW_TRACKING_PASSWORD' } } },
    ]);
  });

  test('turns MLflow\'s usage telemetry off in every step, by reference to the defaults ConfigMap', () => {
    // DO_NOT_TRACK counts only as "true" (mlflow/telemetry/utils.py is_telemetry_disabled)
    let env: unknown[] = [];
    synth((chart) => { env = new Platform(chart, 'p').pipelineRunner.telemetryEnv(); });
    expect(env).toEqual([
      { name: 'MLFLOW_DISABLE_TELEMETRY', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'MLFLOW_DISABLE_TELEMETRY' } } },
      { name: 'DO_NOT_TRACK', valueFrom: { configMapKeyRef: { name: 'pipeline-defaults', key: 'DO_NOT_TRACK' } } },
    ]);
    const data = m.find('ConfigMap', 'pipeline-defaults', 'ml-pipelines').data;
    expect({ MLFLOW_DISABLE_TELEMETRY: data.MLFLOW_DISABLE_TELEMETRY, DO_NOT_TRACK: data.DO_NOT_TRACK }).toEqual({ MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' });
  });

  test('opens exactly the flows steps need: tracking server, object store and the API for the executor', () => {
    const egress = m.find('NetworkPolicy', 'pipelines', 'ml-pipelines').spec.egress;
    expect(egress.map((r: { ports: Array<{ port: number }> }) => r.ports[0].port)).toEqual([443, 5000, 6443, 8333]);
    // the API only at the sandbox's API server range (k3d's Docker networks), never everywhere
    const api = egress.filter((r: { ports: Array<{ port: number }> }) => [443, 6443].includes(r.ports[0].port));
    expect(api.map((r: { to: unknown[] }) => r.to)).toEqual([[{ ipBlock: { cidr: '172.16.0.0/12' } }], [{ ipBlock: { cidr: '172.16.0.0/12' } }]]);
    expect(m.find('NetworkPolicy', 'pipelines', 'ml-pipelines').spec.ingress).toEqual([]);
  });

  test('with a GPU node pool, allows GPUs by quota and caps them per step', () => {
    const gpu = platform({ gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 1 } });
    expect(gpu.find('ResourceQuota', 'pipelines', 'ml-pipelines').spec.hard['requests.nvidia.com/gpu']).toBe(1);
    // no max in the LimitRange: the API server would make it every container's default limit and request
    expect(gpu.find('LimitRange', 'pipelines', 'ml-pipelines').spec.limits).toEqual([{ type: 'Container', defaultRequest: { cpu: '250m', memory: '512Mi' }, default: { memory: '1Gi' } }]);
    const policy = gpu.find('ValidatingAdmissionPolicy', 'cd4ml-gpu-per-step.ml-pipelines');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['*'], resources: ['pods'], operations: ['CREATE'] }]);
    expect(policy.spec.validations[0].expression).toContain(`quantity(string(c.resources.limits["nvidia.com/gpu"])).compareTo(quantity('1')) <= 0`);
    expect(gpu.find('ValidatingAdmissionPolicyBinding', 'cd4ml-gpu-per-step.ml-pipelines').spec).toEqual({
      policyName: 'cd4ml-gpu-per-step.ml-pipelines', validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ml-pipelines' } } },
    });
    expect(platform().all('ValidatingAdmissionPolicy').filter((p) => p.metadata.name.startsWith('cd4ml-gpu-per-step'))).toEqual([]);
  });

  test('fails when a GPU pool allows more GPUs per step than the quota holds', () => {
    expect(() => platform({ gpu: { maxPerStep: 4 } })).toThrow(/platform\/PipelineRunner: gpu.maxPerStep = 4: must be a whole number from 1 to quota.gpus/);
  });
});
