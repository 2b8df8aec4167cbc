import { IngressTls, NetworkPeer, ObjectStoreChoice, Platform, PlatformIngress, SecretRef } from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';
import { chart, problemsOf, refused } from '../inputs/support';

const TRAEFIK = NetworkPeer.pods('kube-system', { 'app.kubernetes.io/name': 'traefik' });
const INGRESS: PlatformIngress = {
  className: 'traefik',
  controller: TRAEFIK,
  tls: IngressTls.certManager({ clusterIssuer: 'letsencrypt' }),
  hosts: { trackingServer: 'mlflow.ml.example.com', workflowServer: 'argo.ml.example.com', objectStore: 's3.ml.example.com' },
};
const admits = (policy: Obj, port: number) => (policy.spec.ingress as Obj[]).some((rule) => rule.ports.some((p: Obj) => p.port === port)
  && rule.from.some((f: Obj) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' && f.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'traefik'));

describe('the way in from outside', () => {
  test('one Ingress per UI, TLS from cert-manager, each in its Service\'s namespace, and the UIs open to the controller only', () => {
    const m = synth((c) => new Platform(c, 'platform', { environment: EnvironmentName.DEV, ingress: INGRESS }));
    const mlflow = m.find('Ingress', 'mlflow', 'cd4ml');
    expect(mlflow.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
    expect(mlflow.spec).toEqual({
      ingressClassName: 'traefik',
      tls: [{ hosts: ['mlflow.ml.example.com'], secretName: 'mlflow-tls' }],
      rules: [{ host: 'mlflow.ml.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'mlflow', port: { number: 5000 } } } }] } }],
    });
    const argo = m.find('Ingress', 'argo-server', 'argo');
    // argo-server speaks HTTPS itself
    expect(argo.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt', 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' });
    expect(argo.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'argo-server', port: { number: 2746 } });
    expect(m.find('Ingress', 'object-store', 'cd4ml').spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'seaweedfs', port: { number: 8333 } });
    // MLflow answers to its external host (its DNS-rebinding guard)
    const args: string[] = m.find('Deployment', 'mlflow', 'cd4ml').spec.template.spec.containers[0].args;
    expect(args[args.indexOf('--allowed-hosts') + 1].split(',')).toContain('mlflow.ml.example.com');
    // the controller's pods reach each UI's port, and nothing else was opened
    expect(admits(m.find('NetworkPolicy', 'mlflow', 'cd4ml'), 5000)).toBe(true);
    expect(admits(m.find('NetworkPolicy', 'argo-server', 'argo'), 2746)).toBe(true);
    expect(admits(m.find('NetworkPolicy', 'seaweedfs', 'cd4ml'), 8333)).toBe(true);
    expect(admits(m.find('NetworkPolicy', 'postgres', 'cd4ml'), 5432)).toBe(false);
  });

  test('an existing certificate Secret is referenced in each namespace with an Ingress; a UI without a host is not exposed', () => {
    const cert = SecretRef.fromSecretName('ml-wildcard-tls', ['tls.crt', 'tls.key']);
    const m = synth((c) => new Platform(c, 'platform', { ingress: { ...INGRESS, tls: IngressTls.existingSecret(cert), hosts: { workflowServer: 'argo.ml.example.com' }, annotations: { 'traefik.ingress.kubernetes.io/router.middlewares': 'kube-system-ipallow@kubernetescrd' } } }));
    expect(m.objects.filter((o) => o.kind === 'Ingress').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['argo/argo-server']);
    const argo = m.find('Ingress', 'argo-server', 'argo');
    expect(argo.spec.tls).toEqual([{ hosts: ['argo.ml.example.com'], secretName: 'ml-wildcard-tls' }]);
    expect(argo.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares']).toBe('kube-system-ipallow@kubernetescrd');
    expect(cert.requiredIn).toEqual(['argo']);
    // the controller reaches exactly the UIs it serves
    expect(admits(m.find('NetworkPolicy', 'argo-server', 'argo'), 2746)).toBe(true);
    expect(admits(m.find('NetworkPolicy', 'mlflow', 'cd4ml'), 5000)).toBe(false);
  });

  test('MinIO, by explicit choice, exposes its console too, and the controller reaches its console port', () => {
    const m = synth((c) => new Platform(c, 'platform', { objectStore: ObjectStoreChoice.minio(), ingress: { ...INGRESS, hosts: { objectStoreConsole: 'minio.ml.example.com' } } }));
    expect(m.find('Ingress', 'object-store-console', 'cd4ml').spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'minio', port: { number: 9001 } });
    expect(admits(m.find('NetworkPolicy', 'minio', 'cd4ml'), 9001)).toBe(true);
    expect(admits(m.find('NetworkPolicy', 'minio', 'cd4ml'), 9000)).toBe(false);
  });

  test('bad ingress settings are refused field by field', () => {
    const build = (ingress: unknown, objectStore?: ObjectStoreChoice) => () => new Platform(chart(), 'platform', { ingress: ingress as PlatformIngress, objectStore });
    refused((h) => build({ ...INGRESS, hosts: { trackingServer: h } })(), 'https://mlflow.example.com', 'ingress.hosts.trackingServer');
    refused((n) => build({ ...INGRESS, className: n })(), 'Traefik Ingress', 'ingress.className');
    const many = problemsOf(build({ className: 'nginx', controller: NetworkPeer.cidr('10.0.0.0/8'), tls: 'letsencrypt', hosts: { mlflow: 'a.example.com', trackingServer: 'x.example.com', workflowServer: 'x.example.com' } }));
    expect(many.map((p) => `${p.field}: ${p.message}`)).toEqual([
      "ingress.controller: is an address block, not the controller's pods",
      'ingress.tls: is not an IngressTls',
      'ingress.hosts.mlflow: is not a UI of the platform',
      'ingress.hosts.workflowServer: is also the host of trackingServer',
    ]);
    expect(problemsOf(build({ ...INGRESS, tls: IngressTls.certManager({}) })).map((p) => p.message)).toEqual(['names no cert-manager issuer, or both kinds']);
    expect(problemsOf(build({ ...INGRESS, tls: IngressTls.existingSecret(SecretRef.fromSecretName('cert', ['crt'])) })).map((p) => p.message)).toEqual(['names a Secret without the key tls.crt', 'names a Secret without the key tls.key']);
    expect(problemsOf(build({ ...INGRESS, hosts: {} })).map((p) => `${p.field}: ${p.message}`)).toEqual(['ingress.hosts: exposes no UI']);
    // what JavaScript or a config file may pass: no TypeError, and never an Ingress without TLS
    expect(problemsOf(build({ ...INGRESS, tls: IngressTls.existingSecret({} as never) })).map((p) => p.message)).toEqual(['names something that is not a Secret']);
    expect(problemsOf(build({ ...INGRESS, tls: IngressTls.certManager({ clusterIssuer: null as never }) })).map((p) => p.message)).toEqual(['names no cert-manager issuer, or both kinds']);
    // the controller's pods, not every pod of its namespace; no credential in an annotation
    expect(problemsOf(build({ ...INGRESS, controller: NetworkPeer.namespace('kube-system') })).map((p) => `${p.field}: ${p.message}`)).toEqual(["ingress.controller: selects every pod of its namespace, not the controller's pods"]);
    expect(problemsOf(build({ ...INGRESS, annotations: { 'nginx.ingress.kubernetes.io/auth-url': 'https://user:hunter2pass@auth.example.com' } })).map((p) => `${p.field} = ${JSON.stringify(p.value)}`)).toEqual(['ingress.annotations["nginx.ingress.kubernetes.io/auth-url"] = "(redacted)"']);
    const external = ObjectStoreChoice.external({ endpoint: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1', credentials: Object.fromEntries(['mlflow', 'workflows', 'pipelines', 'postgres-backup'].map((u) => [u, SecretRef.fromSecretName(`s3-${u}`, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])])) });
    expect(problemsOf(build(INGRESS, external)).map((p) => `${p.field}: ${p.message}`)).toEqual(['ingress.hosts.objectStore: exposes the object store, but it is external: it has its own endpoint']);
    expect(problemsOf(build({ ...INGRESS, hosts: { objectStoreConsole: 'console.ml.example.com' } })).map((p) => `${p.field}: ${p.message}`)).toEqual(['ingress.hosts.objectStoreConsole: exposes a console, but SeaweedFS serves none (only its S3 API, hosts.objectStore)']);
  });
});
