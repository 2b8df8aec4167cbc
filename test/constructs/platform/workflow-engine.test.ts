import { ArgoAuthMode, Platform, PlatformProps } from '../../../constructs';
import { Obj, synth } from '../../support/manifests';

const platform = (props: PlatformProps = {}) => synth((chart) => new Platform(chart, 'platform', props));
const cfg = (m: ReturnType<typeof platform>, key: string): Obj => JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap', 'argo').data[key]);

describe('WorkflowEngine', () => {
  const m = platform();

  test('runs namespace-scoped, managing only the pipeline namespace, with pinned images and the non-root executor', () => {
    const controller = m.container('Deployment', 'workflow-controller', 'workflow-controller', 'argo');
    expect(controller.image).toBe('quay.io/argoproj/workflow-controller:v4.1.4');
    expect(controller.args).toEqual(['--configmap', 'workflow-controller-configmap', '--namespaced', '--managed-namespace', 'ml-pipelines', '--loglevel', 'info']);
    expect(controller.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'healthz' });
    expect(cfg(m, 'executor').image).toBe('quay.io/argoproj/argoexec:v4.1.4-nonroot');
    expect(m.all('ClusterRole')).toEqual([]);
    expect(m.all('ClusterRoleBinding')).toEqual([]);
  });

  test('serves the UI in client auth mode by default, behind Service "argo-server" on 2746', () => {
    const server = m.container('Deployment', 'argo-server', 'argo-server', 'argo');
    expect(server.args).toEqual(['server', '--namespaced', '--managed-namespace', 'ml-pipelines', '--auth-mode', 'client', '--configmap', 'workflow-controller-configmap']);
    expect(server.readinessProbe.httpGet).toMatchObject({ path: '/', port: 'web', scheme: 'HTTPS' });
    expect(m.find('Service', 'argo-server', 'argo').spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'web', port: 2746, targetPort: 'web', protocol: 'TCP' }] });
    // in client mode calls carry the caller's token, but argo-server's own caches read workflows and templates,
    // and it opens the archive as itself: read-only rights there, the archive secret in its namespace, nothing more
    // and it records an Event where a WorkflowEventBinding fails (server/event/dispatch/operation.go)
    expect(m.find('Role', 'argo-server', 'ml-pipelines').rules).toEqual([
      { apiGroups: ['argoproj.io'], resources: ['workflows', 'workflowtemplates', 'cronworkflows'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    expect(m.find('Role', 'argo-server', 'argo').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['postgres-argo'], verbs: ['get'] },
    ]);
    // people read artifacts and archived logs through argo-server with their own token: that secret, no other
    expect(m.find('Role', 'argo-user', 'ml-pipelines').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['seaweedfs-workflows'], verbs: ['get'] });
  });

  test('grants argo-server the users\' rights in the pipeline namespace only when server auth is opted into', () => {
    const sandbox = platform({ workflowAuthMode: ArgoAuthMode.SERVER });
    expect(sandbox.container('Deployment', 'argo-server', 'argo-server', 'argo').args).toContain('server');
    const role = sandbox.find('Role', 'argo-server', 'ml-pipelines');
    expect(role.rules.flatMap((r: Obj) => r.resources)).toEqual(expect.arrayContaining(['workflows', 'workflowtemplates', 'pods/log']));
    expect(role.rules.find((r: Obj) => r.resources.includes('secrets'))).toEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['seaweedfs-workflows'], verbs: ['get'] });
  });

  test('points the artifact repository at the object store through secret selectors, never inline keys', () => {
    expect(cfg(m, 'artifactRepository')).toEqual({
      archiveLogs: true,
      s3: {
        endpoint: 'seaweedfs.cd4ml.svc.cluster.local:8333',
        bucket: 'argo-artifacts',
        region: 'us-east-1',
        insecure: true,
        keyFormat: '{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}',
        accessKeySecret: { name: 'seaweedfs-workflows', key: 'AWS_ACCESS_KEY_ID' },
        secretKeySecret: { name: 'seaweedfs-workflows', key: 'AWS_SECRET_ACCESS_KEY' },
      },
    });
  });

  test('lets the controller read no Secret in the pipeline namespace but the agent CA bundle (workflow/controller/agent.go)', () => {
    // given the controller's Role in the managed namespace
    const rules: Obj[] = m.find('Role', 'workflow-controller', 'ml-pipelines').rules;
    // then its only Secret rule names the one Secret the controller itself reads there
    expect(rules.filter((r) => r.resources.includes('secrets'))).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['argo-workflows-agent-ca-certificates'], verbs: ['get'] },
    ]);
    // and it still reads service accounts (the executor's token name)
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] });
  });

  test('archives workflows in Postgres with credentials from a secret in the controller namespace', () => {
    expect(cfg(m, 'persistence')).toMatchObject({
      archive: true,
      postgresql: { host: 'postgres.cd4ml.svc.cluster.local', port: 5432, database: 'argo', userNameSecret: { name: 'postgres-argo', key: 'username' }, passwordSecret: { name: 'postgres-argo', key: 'password' } },
    });
    expect(m.find('Role', 'workflow-controller', 'argo').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['postgres-argo'], verbs: ['get'] });
  });

  test('gives every workflow a non-default service account, a token only for the executor, a deadline, a TTL and pod GC', () => {
    expect(cfg(m, 'workflowDefaults').spec).toEqual({
      serviceAccountName: 'pipeline-runner',
      automountServiceAccountToken: false,
      executor: { serviceAccountName: 'pipeline-executor' },
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
      activeDeadlineSeconds: 86400,
      ttlStrategy: { secondsAfterCompletion: 604800 },
      podGC: { strategy: 'OnPodSuccess' },
      volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }],
    });
    const main = cfg(m, 'mainContainer');
    expect(main.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // every step, even one submitted by hand, inherits the runner's defaults, MLflow's telemetry off and a writable /tmp as HOME
    expect(main.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(main.env.map((e: Obj) => e.name)).toEqual(['MLFLOW_TRACKING_URI', 'MLFLOW_S3_ENDPOINT_URL', 'AWS_DEFAULT_REGION', 'CD4ML_BUCKET_DATA', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_DISABLE_TELEMETRY', 'DO_NOT_TRACK', 'HOME']);
    expect(main.env.find((e: Obj) => e.name === 'DO_NOT_TRACK').valueFrom.configMapKeyRef).toEqual({ name: 'pipeline-defaults', key: 'DO_NOT_TRACK' });
    expect(main.env.find((e: Obj) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'seaweedfs-pipelines', key: 'AWS_SECRET_ACCESS_KEY' });
    expect(cfg(m, 'executor').resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } });
  });
});
