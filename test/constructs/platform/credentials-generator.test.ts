import { Connections, CredentialsGenerator, MinioObjectStore, PostgresServer, SecretValue, SeaweedObjectStore, TrackingServer } from '../../../constructs';
import { podTemplates, synth } from '../../support/manifests';

const props = { namespace: 'ns', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } };

describe('CredentialsGenerator', () => {
  test('runs a Job with its own token and a Role limited to the secrets it manages, per namespace', () => {
    const m = synth((chart) => {
      const g = new CredentialsGenerator(chart, 'creds', props);
      g.addSecret('db', { password: SecretValue.random() }).availableIn('other');
    });
    const job = m.findHashed('Job', 'cd4ml-credentials', 'ns');
    expect(job.spec).toMatchObject({ backoffLimit: 6, activeDeadlineSeconds: 600 });
    // no TTL: a finished Job stays, or GitOps would re-create it (see test/constructs/k8s/setup-jobs.test.ts)
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(job.spec.template.spec).toMatchObject({ serviceAccountName: 'cd4ml-credentials', automountServiceAccountToken: true });
    expect(m.find('ConfigMap', 'cd4ml-credentials', 'ns').data['generate-credentials.py']).toContain('def main()');
    for (const ns of ['ns', 'other']) {
      expect(m.find('Role', 'cd4ml-credentials', ns).rules).toEqual([
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['db'], verbs: ['get', 'update'] },
      ]);
      expect(m.find('RoleBinding', 'cd4ml-credentials', ns).subjects).toEqual([{ kind: 'ServiceAccount', name: 'cd4ml-credentials', namespace: 'ns' }]);
    }
    expect(JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'ns').data['secrets.json'])).toEqual([{ name: 'db', namespaces: ['ns', 'other'], keys: { password: { random: 32 } } }]);
  });

  test('limits its writes to the Secrets it manages with an admission policy per namespace (RBAC cannot limit create by name)', () => {
    // given a generator whose secrets are declared after it, one of them copied to another namespace
    const m = synth((chart) => {
      const g = new CredentialsGenerator(chart, 'creds', props);
      g.addSecret('db', { password: SecretValue.random() }).availableIn('other');
      g.addSecret('s3', { key: SecretValue.random() });
    });
    // then each namespace it writes to has a policy that checks only its own service account's creates and updates
    for (const [ns, names] of [['ns', ['db', 's3']], ['other', ['db']]] as const) {
      const policy = m.find('ValidatingAdmissionPolicy', `cd4ml-credentials.${ns}`);
      expect(policy.metadata.namespace).toBeUndefined();
      expect(policy.spec).toMatchObject({
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['*'], resources: ['secrets'], operations: ['CREATE', 'UPDATE'] }] },
        matchConditions: [{ name: 'requested-by-service-account', expression: 'request.userInfo.username == "system:serviceaccount:ns:cd4ml-credentials"' }],
      });
      // the names are those declared by synth time; type Opaque; no service-account binding annotation
      expect(policy.spec.validations.map((v: { expression: string }) => v.expression)).toEqual([
        `object.metadata.name in ${JSON.stringify(names)}`,
        'has(object.type) && object.type == "Opaque"',
        '!has(object.metadata.annotations) || !("kubernetes.io/service-account.name" in object.metadata.annotations)',
      ]);
      expect(policy.spec.validations[0].message).toBe(`the credentials generator (service account ns/cd4ml-credentials) may write only the Secrets it manages in ${ns}: ${names.join(', ')}`);
      expect(m.find('ValidatingAdmissionPolicyBinding', `cd4ml-credentials.${ns}`).spec).toEqual({
        policyName: `cd4ml-credentials.${ns}`, validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
      });
    }
    // and the policies are in force before the Job runs
    const job = m.objects.indexOf(m.findHashed('Job', 'cd4ml-credentials', 'ns'));
    for (const ns of ['ns', 'other']) expect(m.objects.indexOf(m.find('ValidatingAdmissionPolicyBinding', `cd4ml-credentials.${ns}`))).toBeLessThan(job);
  });

  test('fails when a secret is declared twice, has no keys, or a key is not an env name', () => {
    expect(() => synth((chart) => { const g = new CredentialsGenerator(chart, 'g', props); g.addSecret('a', { k: SecretValue.random() }); g.addSecret('a', { k: SecretValue.random() }); })).toThrow(/test\/g\/a: name = "a": is declared twice/);
    expect(() => synth((chart) => new CredentialsGenerator(chart, 'g', props).addSecret('a', {}))).toThrow(/keys = \{\}: is empty/);
    expect(() => synth((chart) => new CredentialsGenerator(chart, 'g', props).addSecret('a', { 'my-key': SecretValue.random() }))).toThrow(/keys.my-key = "my-key": is not a valid environment variable name/);
  });

  test('names its Job after the secrets it creates, so declaring another one makes a new Job that runs', () => {
    const names = [1, 2].map((n) => synth((chart) => {
      const g = new CredentialsGenerator(chart, 'creds', props);
      for (let i = 0; i < n; i++) g.addSecret(`s${i}`, { k: SecretValue.random() });
    }).findHashed('Job', 'cd4ml-credentials').metadata.name);
    expect(names[0]).not.toBe(names[1]);
  });

  test('refuses short random values', () => {
    expect(() => SecretValue.random(8)).toThrow('SecretValue.random: length = 8: is not a whole number from 16 to 256. Fix: use at least 16 characters');
  });
});

describe('components in namespaces other than their generator\'s', () => {
  test('every generated Secret a pod reads is generated in that pod\'s namespace, with the generator allowed to write it there', () => {
    // given a generator in `ops` and each component in a namespace of its own
    const m = synth((chart) => {
      const credentials = new CredentialsGenerator(chart, 'creds', { ...props, namespace: 'ops' });
      const store = new SeaweedObjectStore(chart, 'store', { namespace: 'storage', credentials });
      const minio = new MinioObjectStore(chart, 'minio', { namespace: 'legacy', credentials, name: 'minio' });
      const pg = new PostgresServer(chart, 'pg', { namespace: 'db', credentials });
      pg.enableBackups({ bucket: minio.addBucket('db-backups') });
      const mlflow = new TrackingServer(chart, 'mlflow', { namespace: 'tracking', database: pg.addDatabase('mlflow'), artifactBucket: store.addBucket('mlflow-artifacts'), credentials });
      mlflow.grantUser({ connections: new Connections(chart, 'team', { name: 'team', namespace: 'apps', podSelector: { app: 'team' } }) }, 'team');
    });
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'ops').data['secrets.json']) as Array<{ name: string; namespaces: string[] }>;
    const generatedIn = new Map(spec.map((s) => [s.name, s.namespaces]));
    // then each reference from a pod names a Secret the generator writes in the pod's own namespace
    const missing: string[] = [];
    const refs = new Set<string>();
    for (const t of podTemplates(m.objects)) {
      for (const c of [...(t.spec.initContainers ?? []), ...t.spec.containers]) {
        for (const e of c.env ?? []) {
          const name = e.valueFrom?.secretKeyRef?.name as string | undefined;
          if (!name || !generatedIn.has(name)) continue;
          refs.add(`${t.namespace}/${name}`);
          if (!generatedIn.get(name)!.includes(t.namespace ?? '')) missing.push(`${t.owner} reads ${name}, generated only in ${generatedIn.get(name)!.join(', ')}`);
        }
      }
    }
    expect(missing).toEqual([]);
    // the references cover every component's own Secrets, in its own namespace
    expect([...refs].filter((r) => /\/(seaweedfs-admin|minio-root|postgres-superuser|mlflow-admin|mlflow-flask-secret-key|mlflow-user-team|postgres-mlflow)$/.test(r)).sort()).toEqual([
      'db/postgres-mlflow', 'db/postgres-superuser', 'legacy/minio-root', 'storage/seaweedfs-admin', 'tracking/mlflow-admin', 'tracking/mlflow-flask-secret-key', 'tracking/mlflow-user-team', 'tracking/postgres-mlflow',
    ]);
    // and in each namespace the generator writes to, its Role names exactly the Secrets it writes there
    for (const ns of ['storage', 'legacy', 'db', 'tracking', 'apps']) {
      const names = spec.filter((s) => s.namespaces.includes(ns)).map((s) => s.name).sort();
      expect({ ns, names: m.find('Role', 'cd4ml-credentials', ns).rules[1].resourceNames }).toEqual({ ns, names });
    }
  });
});
