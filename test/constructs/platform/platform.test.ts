import { DatabaseChoice, ObjectStoreChoice, Platform, PlatformProps, PostgresSslMode, SecretRef } from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';
import { securityViolations } from '../../support/security';

const platform = (props: PlatformProps = {}) => synth((chart) => new Platform(chart, 'platform', props));

describe('Platform', () => {
  test('the sandbox stands up the seed\'s components under readable names', () => {
    const m = platform();
    for (const [name, ns] of [['seaweedfs', 'cd4ml'], ['postgres', 'cd4ml'], ['mlflow', 'cd4ml'], ['argo-server', 'argo']]) expect(m.has('Service', name, ns)).toBe(true);
    expect(m.all('Namespace').map((n) => n.metadata.name)).toEqual(['cd4ml', 'argo', 'ml-pipelines']);
    expect(m.find('Namespace', 'ml-pipelines').metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.27' });
  });

  test('only the workloads that call the Kubernetes API may reach it, and only at the API server range', () => {
    // given the sandbox, and a platform told its API server's address
    const sandbox = platform();
    const told = platform({ kubeApi: { cidr: '192.0.2.10/32' } });
    const apiEgress = (m: typeof sandbox) => Object.fromEntries(m.all('NetworkPolicy')
      .map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, ((p.spec.egress ?? []) as Obj[]).filter((r) => (r.to ?? []).some((t: Obj) => t.ipBlock))] as const)
      .filter(([, rules]) => rules.length > 0)
      .map(([name, rules]) => [name, rules.map((r) => `${r.to.map((t: Obj) => t.ipBlock.cidr).join(',')}:${r.ports[0].port}`)]));
    // then the credentials Job, the Argo controller and server, and the pipeline pods (for the Argo executor) have it;
    // MLflow, the stores, their setup Jobs and the backup do not
    const sandboxApi = ['172.16.0.0/12:443', '172.16.0.0/12:6443'];
    expect(apiEgress(sandbox)).toEqual({ 'cd4ml/cd4ml-credentials': sandboxApi, 'argo/workflow-controller': sandboxApi, 'argo/argo-server': sandboxApi, 'ml-pipelines/pipelines': sandboxApi });
    const toldApi = ['192.0.2.10/32:443', '192.0.2.10/32:6443'];
    expect(apiEgress(told)).toEqual({ 'cd4ml/cd4ml-credentials': toldApi, 'argo/workflow-controller': toldApi, 'argo/argo-server': toldApi, 'ml-pipelines/pipelines': toldApi });
    // and only their pods carry an API token
    const tokens = sandbox.objects.filter((o) => ['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(o.kind))
      .filter((o) => (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template).spec.automountServiceAccountToken !== false)
      .map((o) => o.metadata.name.replace(/-[0-9a-f]{8}$/, ''));
    expect(tokens.sort()).toEqual(['argo-server', 'cd4ml-credentials', 'workflow-controller']);
  });

  test('changing a namespace keeps every consumer right', () => {
    // given other namespaces than the defaults
    const m = platform({ namespace: 'mlops', workflowNamespace: 'workflows', pipelineNamespace: 'training' });
    // then every URL, selector, secret copy and role follows
    expect(m.find('ConfigMap', 'pipeline-defaults', 'training').data.MLFLOW_TRACKING_URI).toBe('http://mlflow.mlops.svc.cluster.local:5000');
    const repo = JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap', 'workflows').data.artifactRepository);
    expect(repo.s3.endpoint).toBe('seaweedfs.mlops.svc.cluster.local:8333');
    expect(m.container('Deployment', 'workflow-controller', 'workflow-controller', 'workflows').args).toContain('training');
    expect(m.has('Role', 'workflow-controller', 'training')).toBe(true);
    expect(danglingReferences(m.objects)).toEqual([]);
    expect(securityViolations(m.objects)).toEqual([]);
  });

  test('the environment preset sizes stores and servers', () => {
    const prod = platform({ environment: EnvironmentName.PROD });
    expect(prod.find('StatefulSet', 'postgres').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('100Gi');
    expect(prod.find('Deployment', 'mlflow').spec.replicas).toBe(2);
    expect(prod.find('Deployment', 'argo-server').spec.replicas).toBe(2);
    expect(prod.has('PodDisruptionBudget', 'argo-server', 'argo')).toBe(true);
    const sandbox = platform();
    expect(sandbox.find('StatefulSet', 'seaweedfs').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
    expect(sandbox.all('PodDisruptionBudget')).toEqual([]);
  });

  test('an external S3 endpoint and external databases replace the in-cluster stores without touching their consumers', () => {
    // given one S3 key per consumer
    const key = (user: string) => SecretRef.fromSecretName(`s3-${user}`, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    const s3keys = { mlflow: key('mlflow'), workflows: key('workflows'), pipelines: key('pipelines') };
    const pgMlflow = SecretRef.fromSecretName('pg-mlflow', ['username', 'password']);
    const pgArgo = SecretRef.fromSecretName('pg-argo', ['username', 'password']);
    // when
    const m = platform({
      objectStore: ObjectStoreChoice.external({ endpoint: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1', credentials: s3keys }),
      database: DatabaseChoice.external({
        trackingServer: { host: 'db.example.com', databaseName: 'mlflow', credentials: pgMlflow },
        workflowArchive: { host: 'db.example.com', databaseName: 'argo', credentials: pgArgo },
      }),
    });
    // then
    expect(m.has('StatefulSet', 'seaweedfs')).toBe(false);
    expect(m.has('StatefulSet', 'postgres')).toBe(false);
    const args: string[] = m.container('Deployment', 'mlflow', 'mlflow').args;
    // external databases: a verified certificate by default, for MLflow (libpq) and the Argo archive (pgx)
    expect(args[args.indexOf('--backend-store-uri') + 1]).toBe('postgresql+psycopg2://db.example.com:5432/mlflow?sslmode=verify-full&sslrootcert=system');
    expect(JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap').data.persistence).postgresql).toMatchObject({ host: 'db.example.com', ssl: true, sslMode: 'verify-full' });
    expect(m.env('Deployment', 'mlflow', 'mlflow', 'MLFLOW_S3_ENDPOINT_URL').value).toBe('https://s3.eu-central-1.amazonaws.com:443');
    // each consumer reads its own key: MLflow in its namespace, Argo's and the steps' apart in the pipelines'
    expect(JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap').data.artifactRepository).s3).toMatchObject({ endpoint: 's3.eu-central-1.amazonaws.com:443', insecure: false, accessKeySecret: { name: 's3-workflows' } });
    expect(m.env('Deployment', 'mlflow', 'mlflow', 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef.name).toBe('s3-mlflow');
    expect(Object.fromEntries(Object.entries(s3keys).map(([u, k]) => [u, k.requiredIn]))).toEqual({ mlflow: ['cd4ml'], workflows: ['ml-pipelines'], pipelines: ['ml-pipelines'] });
    expect(pgArgo.requiredIn).toEqual(['argo']);
    expect(danglingReferences(m.objects, [
      ...Object.values(s3keys).flatMap((k) => k.requiredIn.map((ns) => ({ namespace: ns, name: k.secretName, keys: k.keys }))),
      ...pgMlflow.requiredIn.map((ns) => ({ namespace: ns, name: 'pg-mlflow', keys: pgMlflow.keys })),
      ...pgArgo.requiredIn.map((ns) => ({ namespace: ns, name: 'pg-argo', keys: pgArgo.keys })),
    ])).toEqual([]);
    expect(securityViolations(m.objects)).toEqual([]);
  });

  test('takes the sslmode of an external database, and fails on one libpq does not know', () => {
    const pg = (sslMode?: string) => SecretRef.fromSecretName(`pg-${sslMode}`, ['username', 'password']);
    const m = platform({
      database: DatabaseChoice.external({
        trackingServer: { host: 'db.example.com', databaseName: 'mlflow', credentials: pg('a'), sslMode: PostgresSslMode.REQUIRE },
        workflowArchive: { host: 'db.example.com', databaseName: 'argo', credentials: pg('b'), sslMode: PostgresSslMode.REQUIRE },
      }),
    });
    const args: string[] = m.container('Deployment', 'mlflow', 'mlflow').args;
    expect(args[args.indexOf('--backend-store-uri') + 1]).toBe('postgresql+psycopg2://db.example.com:5432/mlflow?sslmode=require');
    expect(JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap').data.persistence).postgresql).toMatchObject({ ssl: true, sslMode: 'require' });
    // the in-cluster server has no certificate: explicit, so pgx does not fall back to an unverified "prefer"
    expect(JSON.parse(platform().find('ConfigMap', 'workflow-controller-configmap').data.persistence).postgresql).toMatchObject({ ssl: true, sslMode: 'disable' });
    expect(() => platform({
      database: DatabaseChoice.external({
        trackingServer: { host: 'db.example.com', databaseName: 'mlflow', credentials: pg('c'), sslMode: 'prefer' as PostgresSslMode },
        workflowArchive: { host: 'db.example.com', databaseName: 'argo', credentials: pg('d') },
      }),
    })).toThrow(/sslMode = "prefer": is not a libpq sslmode cd4ml supports. Fix: use one of disable, require, verify-ca, verify-full/);
  });

  test('opens the UIs to an ingress controller only when asked', () => {
    const closed = platform();
    expect(closed.find('NetworkPolicy', 'mlflow').spec.ingress.flatMap((r: Obj) => r.from).some((p: Obj) => p.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === 'ingress-nginx')).toBe(false);
    const { NetworkPeer } = jest.requireActual('../../../constructs');
    const open = platform({ uiIngressFrom: [NetworkPeer.namespace('ingress-nginx')] });
    const fromIngress = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: { matchLabels: {} } };
    expect(open.find('NetworkPolicy', 'mlflow').spec.ingress).toContainEqual({ from: expect.arrayContaining([fromIngress]), ports: [{ protocol: 'TCP', port: 5000 }] });
    expect(open.find('NetworkPolicy', 'argo-server').spec.ingress).toEqual([{ from: [fromIngress], ports: [{ protocol: 'TCP', port: 2746 }] }]);
  });
});
