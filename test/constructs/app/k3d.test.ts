import { parseAllDocuments } from 'yaml';
import { Cd4mlValidationError, checkK3dOptions, EnvironmentName, k3dConfig, synthesizeEnvironment } from '../../../index';

// The fields of k3d's `Simple` config (k3d.io/v1alpha5) cd4ml writes, and where each lives (k3d's config schema,
// pkg/config/v1alpha5/schema.json: every object there refuses other fields). The end-to-end script creates the
// sandbox's cluster from this file on a real k3d.
const TOP = ['apiVersion', 'kind', 'metadata', 'servers', 'agents', 'image', 'subnet', 'volumes', 'ports', 'registries', 'options'];

describe('the sandbox as code: a k3d config', () => {
  const sandbox = synthesizeEnvironment({ environment: EnvironmentName.SANDBOX });

  test('one server, an agent, a registry beside it, local-path volumes on a host folder, a subnet the platform lets pods reach', () => {
    const file = k3dConfig(sandbox);
    expect(file.path).toBe('k3d/cd4ml.yaml');
    const [config] = parseAllDocuments(file.content).map((d) => d.toJSON());
    expect(Object.keys(config).every((k) => TOP.includes(k))).toBe(true);
    expect(config).toMatchObject({
      apiVersion: 'k3d.io/v1alpha5', kind: 'Simple', metadata: { name: 'cd4ml' }, servers: 1, agents: 1, image: 'rancher/k3s:v1.31.5-k3s1', subnet: '172.28.0.0/16',
      volumes: [{ volume: '/tmp/cd4ml-k3d-storage:/var/lib/rancher/k3s/storage', nodeFilters: ['all'] }],
      registries: { create: { name: 'registry.localhost', host: '127.0.0.1', hostPort: '5000' } },
    });
    // no Ingress in the sandbox: no host port is opened
    expect(config.ports).toBeUndefined();
    expect(file.content).toMatch(/pulled in the cluster as k3d-registry.localhost:5000\/<image>/);
    // the sandbox's Retain StorageClass uses k3s's local-path provisioner, whose folder the volume keeps on the host
    expect(sandbox.platformObjects.find((o) => o.kind === 'StorageClass')).toMatchObject({ provisioner: 'rancher.io/local-path', reclaimPolicy: 'Retain' });
  });

  test('Traefik\'s ports are opened when the platform has Ingress hosts', () => {
    const withIngress = { ...sandbox, platformObjects: [...sandbox.platformObjects, { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'mlflow', namespace: 'cd4ml' } }] };
    const [config] = parseAllDocuments(k3dConfig(withIngress, { ingressPorts: { https: 9443 } }).content).map((d) => d.toJSON());
    expect(config.ports).toEqual([{ port: '8080:80', nodeFilters: ['loadbalancer'] }, { port: '9443:443', nodeFilters: ['loadbalancer'] }]);
  });

  test('bad options, from TypeScript or JavaScript, in one report; a subnet outside the API server CIDR is refused', () => {
    expect(checkK3dOptions({})).toEqual([]);
    const problems = checkK3dOptions({ name: 'My Cluster', agents: -1, k3sImage: 'rancher/k3s:latest', subnet: '10.0.0.0/16', storageHostPath: 'relative', registry: { hostPort: 80 } } as never);
    expect(problems.map((p) => p.field)).toEqual(['name', 'agents', 'k3sImage', 'subnet', 'storageHostPath', 'registry.hostPort']);
    expect(problems.find((p) => p.field === 'subnet')!.message).toMatch(/lies outside 172.16.0.0\/12, where the platform's NetworkPolicies let pods reach the API server/);
    // the fixes pass
    expect(checkK3dOptions({ name: 'cd4ml', agents: 1, k3sImage: 'rancher/k3s:v1.31.5-k3s1', subnet: '172.28.0.0/16', storageHostPath: '/tmp/cd4ml-k3d-storage', registry: { hostPort: 5000 } })).toEqual([]);
    expect(checkK3dOptions({ subnet: '10.0.0.0/16', kubeApiCidr: '10.0.0.0/8' })).toEqual([]);
    expect(() => k3dConfig(sandbox, { agents: 'two' } as never)).toThrow(Cd4mlValidationError);
  });
});
