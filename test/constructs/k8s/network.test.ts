import { Connections, NetworkPeer } from '../../../constructs';
import { synth } from '../../support/manifests';

describe('Connections', () => {
  test('allowFrom opens the same flow as allowTo, from the other side: egress there, ingress here', () => {
    // given two workloads in different namespaces
    const m = synth((chart) => {
      const api = new Connections(chart, 'api', { name: 'api', namespace: 'a', podSelector: { app: 'api' } });
      const web = new Connections(chart, 'web', { name: 'web', namespace: 'b', podSelector: { app: 'web' } });
      // when
      api.allowFrom({ connections: web }, 8080);
    });
    // then
    expect(m.find('NetworkPolicy', 'api', 'a').spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } }, podSelector: { matchLabels: { app: 'web' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }]);
    expect(m.find('NetworkPolicy', 'web', 'b').spec.egress).toEqual([{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: { matchLabels: { app: 'api' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }]);
    expect(m.find('NetworkPolicy', 'api', 'a').spec.egress).toEqual([]);
  });

  test('renders each port once with all of its peers, and a flow declared twice once', () => {
    const m = synth((chart) => {
      const db = new Connections(chart, 'db', { name: 'db', namespace: 'a', podSelector: { app: 'db' } });
      db.allowIngress(NetworkPeer.namespace('x'), 5432);
      db.allowIngress(NetworkPeer.namespace('y'), 5432);
      db.allowIngress(NetworkPeer.namespace('x'), 5432);
    });
    expect(m.find('NetworkPolicy', 'db', 'a').spec.ingress).toEqual([{
      from: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } }, podSelector: { matchLabels: {} } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } }, podSelector: { matchLabels: {} } },
      ],
      ports: [{ protocol: 'TCP', port: 5432 }],
    }]);
  });

  test('fails when the API server CIDR or port is malformed', () => {
    expect(() => synth((chart) => new Connections(chart, 'c', { name: 'c', namespace: 'a', podSelector: {} }).allowToKubeApi({ cidr: '10.0.0.0', ports: [70000] }))).toThrow(
      /test\/c: kubeApi.cidr = "10.0.0.0": is not a CIDR block[\s\S]*kubeApi.ports = 70000: is not a TCP port/,
    );
  });
});
