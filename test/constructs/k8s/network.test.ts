import { Connections, DEFAULT_KUBE_API_CIDR, NetworkPeer } from '../../../constructs';
import { Cd4mlValidationError } from '../../../lib';
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

  test('opens API egress only to the sandbox\'s API server range by default, on 443 and 6443', () => {
    // when
    const m = synth((chart) => new Connections(chart, 'c', { name: 'c', namespace: 'a', podSelector: { app: 'c' } }).allowToKubeApi());
    // then: k3d's Docker networks (172.17.0.0/16 onwards), not every address
    expect(DEFAULT_KUBE_API_CIDR).toBe('172.16.0.0/12');
    expect(m.find('NetworkPolicy', 'c', 'a').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '172.16.0.0/12' } }], ports: [{ protocol: 'TCP', port: 443 }] },
      { to: [{ ipBlock: { cidr: '172.16.0.0/12' } }], ports: [{ protocol: 'TCP', port: 6443 }] },
    ]);
  });

  test('fails when the API server CIDR is every address, with a fix that passes', () => {
    const connect = (cidr: string) => synth((chart) => new Connections(chart, 'c', { name: 'c', namespace: 'a', podSelector: {} }).allowToKubeApi({ cidr }));
    for (const cidr of ['0.0.0.0/0', '::/0']) {
      expect(() => connect(cidr)).toThrow(new RegExp(`test/c: kubeApi.cidr = "${cidr.replace(/\./g, '\\.')}": opens API egress to every address\\. Fix: set it to your API server endpoints' addresses`));
    }
    // the fix's example passes
    const fix = (() => { try { connect('0.0.0.0/0'); } catch (e) { return (e as Cd4mlValidationError).problems[0].fix; } return ''; })();
    const example = /"([^"]+)"/.exec(fix)![1];
    expect(connect(example).find('NetworkPolicy', 'c', 'a').spec.egress[0].to).toEqual([{ ipBlock: { cidr: example } }]);
  });

  test('fails when the API server CIDR or port is malformed', () => {
    expect(() => synth((chart) => new Connections(chart, 'c', { name: 'c', namespace: 'a', podSelector: {} }).allowToKubeApi({ cidr: '10.0.0.0', ports: [70000] }))).toThrow(
      /test\/c: kubeApi.cidr = "10.0.0.0": is not a CIDR block[\s\S]*kubeApi.ports = 70000: is not a TCP port/,
    );
  });
});
