import { Platform } from '../../constructs';
import { Obj, synth } from './manifests';
import { danglingReferences } from './references';
import { securityViolations } from './security';

// The whole-output checkers guard every other test; these prove each check fires when its rule is broken.
const clean = synth((chart) => new Platform(chart, 'platform')).objects;
const copy = (): Obj[] => JSON.parse(JSON.stringify(clean));
const find = (objects: Obj[], kind: string, name: string): Obj => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('danglingReferences', () => {
  test('passes the clean platform', () => {
    expect(danglingReferences(clean)).toEqual([]);
  });

  test('catches a Service whose target port no pod exposes', () => {
    const objects = copy();
    find(objects, 'Service', 'mlflow').spec.ports[0].targetPort = 'web';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/Service cd4ml\/mlflow: targetPort web/));
  });

  test('catches an env var reading a secret key nobody creates', () => {
    const objects = copy();
    const env = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'PGPASSWORD');
    env.valueFrom.secretKeyRef.key = 'pass';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/env PGPASSWORD reads cd4ml\/postgres-mlflow\[pass\]/));
  });

  test('catches a NetworkPolicy peer that matches no pod', () => {
    const objects = copy();
    find(objects, 'NetworkPolicy', 'postgres').spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/name'] = 'mlfow';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/NetworkPolicy cd4ml\/postgres: from peer .* matches no pod/));
  });

  test('catches an in-cluster URL with a port the Service lacks', () => {
    const objects = copy();
    find(objects, 'ConfigMap', 'pipeline-defaults').data.MLFLOW_TRACKING_URI = 'http://mlflow.cd4ml.svc.cluster.local:5001';
    expect(danglingReferences(objects)).toContainEqual(expect.stringMatching(/mlflow.cd4ml.svc.cluster.local:5001 names a port the Service lacks/));
  });

  test('catches a role binding to a missing role and an artifact secret missing from the managed namespace', () => {
    const objects = copy();
    find(objects, 'RoleBinding', 'pipeline-executor').roleRef.name = 'executor';
    const cm = find(objects, 'ConfigMap', 'workflow-controller-configmap');
    const repo = JSON.parse(cm.data.artifactRepository);
    repo.s3.accessKeySecret.name = 'minio-root';
    cm.data.artifactRepository = JSON.stringify(repo);
    const problems = danglingReferences(objects);
    expect(problems).toContainEqual(expect.stringMatching(/RoleBinding ml-pipelines\/pipeline-executor: Role executor missing/));
    expect(problems).toContainEqual(expect.stringMatching(/artifact secret ml-pipelines\/minio-root/));
  });
});

describe('securityViolations', () => {
  test('passes the clean platform', () => {
    expect(securityViolations(clean)).toEqual([]);
  });

  test('catches a container that keeps capabilities, an unpinned image and a literal password', () => {
    const objects = copy();
    const c = find(objects, 'StatefulSet', 'minio').spec.template.spec.containers[0];
    delete c.securityContext.capabilities;
    c.image = 'quay.io/minio/minio:latest';
    c.env.push({ name: 'MINIO_ROOT_PASSWORD', value: 'minioadmin' });
    const v = securityViolations(objects);
    expect(v).toContainEqual(expect.stringMatching(/container minio: capabilities do not drop ALL \(rule 3\)/));
    expect(v).toContainEqual(expect.stringMatching(/image quay.io\/minio\/minio:latest is not pinned \(rule 8\)/));
    expect(v).toContainEqual(expect.stringMatching(/env MINIO_ROOT_PASSWORD is a literal \(rule 11\)/));
  });

  test('catches identical probes, a missing memory limit and credentials in a URL', () => {
    const objects = copy();
    const c = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0];
    c.livenessProbe = c.readinessProbe;
    delete c.resources.limits;
    c.args.push('postgresql://mlflow:hunter2@postgres:5432/mlflow');
    const v = securityViolations(objects);
    expect(v).toContainEqual(expect.stringMatching(/probes are identical \(rule 9\)/));
    expect(v).toContainEqual(expect.stringMatching(/memory limit \(rule 7\)/));
    expect(v).toContainEqual(expect.stringMatching(/user:pass@ \(rule 11\)/));
  });
});
