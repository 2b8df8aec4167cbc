import { Chart, Testing } from 'cdk8s';
import { ObjectStoreChoice, Platform, PlatformNamespace, SecretRef } from '../constructs';
import { Cd4mlValidationError, EnvironmentName } from '../lib';
import { environmentFromEnv } from '../stacks/app';
import { synth } from './support/manifests';

// Bad input fails while the constructs are built, before anything is written, naming path, field, value and fix.
describe('bad input', () => {
  test('fails when a namespace is not a DNS-1123 label', () => {
    expect(() => synth((chart) => new Platform(chart, 'platform', { namespace: 'ML_Ops' }))).toThrow(
      'test/platform: namespace = "ML_Ops": is not a valid DNS-1123 label (at most 63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit). Fix: use a name like "ml-ops"',
    );
  });

  test('fails when two platform namespaces are the same', () => {
    expect(() => synth((chart) => new Platform(chart, 'platform', { workflowNamespace: 'cd4ml' }))).toThrow(/namespace, workflowNamespace, pipelineNamespace = \["cd4ml","cd4ml","ml-pipelines"\]: are not all different/);
  });

  test('fails when a preset does not exist', () => {
    expect(() => synth((chart) => new Platform(chart, 'platform', { environment: 'qa' as EnvironmentName }))).toThrow(
      'test/platform: environment = "qa": is not a known environment preset. Fix: use one of sandbox, dev, staging, prod',
    );
    expect(() => environmentFromEnv('production')).toThrow(/CD4ML_ENV: environment = "production": is not a known environment preset/);
  });

  test('fails when an external object store has no endpoint', () => {
    const credentials = SecretRef.fromSecretName('s3', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    expect(() => ObjectStoreChoice.external({ endpoint: '', sharedCredentials: credentials })).toThrow(/ObjectStoreChoice.external: endpoint = "": is required for an external object store/);
  });

  test('fails when a StorageClass name is invalid', () => {
    expect(() => synth((chart) => new Platform(chart, 'platform', { storageClassName: 'Fast SSD' }))).toThrow(/storageClassName = "Fast SSD": is not a valid DNS-1123 subdomain/);
  });

  test('fails when a namespace construct gets a name Kubernetes would reject', () => {
    expect(() => new PlatformNamespace(new Chart(Testing.app(), 'c'), 'ns', { name: '-bad' })).toThrow(/c\/ns: name = "-bad"/);
  });

  test('reports several problems of one construct together, as one error with every problem listed', () => {
    let error: unknown;
    try {
      synth((chart) => new Platform(chart, 'platform', { namespace: 'A', workflowNamespace: 'B_', pipelineNamespace: 'ok' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Cd4mlValidationError);
    expect((error as Cd4mlValidationError).problems.map((p) => p.field)).toEqual(['namespace', 'workflowNamespace']);
  });
});
