import { CredentialsGenerator, SecretValue } from '../../../constructs';
import { synth } from '../../support/manifests';

const props = { namespace: 'ns', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } };

describe('CredentialsGenerator', () => {
  test('runs a Job with its own token and a Role limited to the secrets it manages, per namespace', () => {
    const m = synth((chart) => {
      const g = new CredentialsGenerator(chart, 'creds', props);
      g.addSecret('db', { password: SecretValue.random() }).availableIn('other');
    });
    const job = m.findHashed('Job', 'cd4ml-credentials', 'ns');
    expect(job.spec).toMatchObject({ backoffLimit: 6, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600 });
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
