import { randomBytes } from 'crypto';
import { writeFileSync } from 'fs';
import { request as httpsRequest } from 'https';
import { join } from 'path';
import { freePort, run, scratch, start, Started, stop, waitFor } from './processes';
import { tools } from './tools';

// A real control plane on loopback, in the manner of controller-runtime's envtest (controlplane/apiserver.go,
// etcd.go): etcd, kube-apiserver with RBAC and the admission plugins a cluster runs (PodSecurity, LimitRanger,
// ResourceQuota, ServiceAccount), the controller manager (Deployments -> ReplicaSets -> Pods, Jobs, CronJobs,
// StatefulSets, service-account tokens, namespace deletion) and the scheduler. Random free ports, bounded waits,
// everything stopped by stop().

/** How to reach the API server as a given identity. */
export interface ApiAccess {
  readonly server: string;
  readonly token: string;
}

export class ControlPlane {
  /** Admin (system:masters) access. */
  public readonly admin: ApiAccess;
  /** A kubeconfig file for the admin. */
  public readonly kubeconfig: string;
  public readonly dir: string;
  private readonly procs: Started[];

  private constructor(o: { dir: string; admin: ApiAccess; kubeconfig: string; procs: Started[] }) {
    this.dir = o.dir;
    this.admin = o.admin;
    this.kubeconfig = o.kubeconfig;
    this.procs = o.procs;
  }

  /** Starts etcd, the API server, the controller manager and the scheduler; resolves once the API serves. */
  public static async start(o: { controllers?: boolean } = {}): Promise<ControlPlane> {
    const bin = tools().kube;
    const dir = scratch('cp');
    const procs: Started[] = [];
    try {
      const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
      const etcd = start('etcd', join(bin, 'etcd'), [
        '--data-dir', join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
        '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
        '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn',
      ], { logDir: dir });
      procs.push(etcd);
      await waitFor('etcd health', async () => ((await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok ? true : undefined), 30000, { proc: etcd });

      // Service-account signing key, admin and component tokens (a static token file, as envtest does).
      run('openssl', ['genrsa', '-out', join(dir, 'sa.key'), '2048']);
      run('openssl', ['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
      const token = () => randomBytes(24).toString('hex');
      const adminToken = token(), cmToken = token(), schedToken = token();
      writeFileSync(join(dir, 'tokens.csv'), [
        `${adminToken},cd4ml-admin,cd4ml-admin,system:masters`,
        `${cmToken},system:kube-controller-manager,kcm`,
        `${schedToken},system:kube-scheduler,ksched`,
      ].join('\n') + '\n');
      const server = `https://127.0.0.1:${apiPort}`;
      const api = start('kube-apiserver', join(bin, 'kube-apiserver'), [
        '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
        '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort), '--cert-dir', join(dir, 'certs'),
        '--service-cluster-ip-range', '10.96.0.0/16',
        '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local', '--api-audiences', 'https://kubernetes.default.svc.cluster.local',
        '--service-account-key-file', join(dir, 'sa.pub'), '--service-account-signing-key-file', join(dir, 'sa.key'),
        '--token-auth-file', join(dir, 'tokens.csv'),
        '--authorization-mode', 'Node,RBAC',
        '--enable-admission-plugins', 'NamespaceLifecycle,ServiceAccount,PodSecurity,LimitRanger,ResourceQuota,DefaultStorageClass',
        '--allow-privileged=false',
        '--storage-media-type', 'application/json',
        // the loopback address cannot be the kubernetes Service's endpoint; nothing in the tier needs it
        '--endpoint-reconciler-type', 'none',
      ], { logDir: dir });
      procs.push(api);
      const admin = { server, token: adminToken };
      await waitFor('kube-apiserver /readyz', async () => ((await kubeFetch(admin, '/readyz')).ok ? true : undefined), 90000, { proc: api, intervalMs: 500 });
      const kubeconfig = writeKubeconfig(dir, 'admin', admin);

      if (o.controllers ?? true) {
        const cm = start('kube-controller-manager', join(bin, 'kube-controller-manager'), [
          '--kubeconfig', writeKubeconfig(dir, 'controller-manager', { server, token: cmToken }),
          '--authentication-skip-lookup', '--authorization-always-allow-paths', '/healthz',
          '--service-account-private-key-file', join(dir, 'sa.key'), '--root-ca-file', join(dir, 'certs', 'apiserver.crt'),
          '--use-service-account-credentials', '--leader-elect=false', '--bind-address', '127.0.0.1', '--secure-port', String(await freePort()),
          '--controllers', '*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-cloud-node-lifecycle,-ttl',
          '--concurrent-service-syncs', '1',
        ], { logDir: dir });
        procs.push(cm);
        const sched = start('kube-scheduler', join(bin, 'kube-scheduler'), [
          '--kubeconfig', writeKubeconfig(dir, 'scheduler', { server, token: schedToken }),
          '--authentication-skip-lookup', '--leader-elect=false', '--bind-address', '127.0.0.1', '--secure-port', String(await freePort()),
        ], { logDir: dir });
        procs.push(sched);
      }
      return new ControlPlane({ dir, admin, kubeconfig, procs });
    } catch (e) {
      for (const p of procs.reverse()) await stop(p);
      throw e;
    }
  }

  /** Stops every process of the control plane (newest first). */
  public async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) await stop(p);
  }

  /** The log tail of one of its processes (for failure messages). */
  public log(name: string): string {
    return this.procs.find((p) => p.name === name)?.tail() ?? '(none)';
  }

  /** Runs kubectl as the admin (or as `as`, a full user name such as system:serviceaccount:ns:sa). */
  public kubectl(args: readonly string[], o: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): { status: number; stdout: string; stderr: string } {
    return run(join(tools().kube, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args], { input: o.input, allowFail: o.allowFail, timeoutMs: o.timeoutMs ?? 60000 });
  }

  /** A JSON call to the API as the admin (or another identity). */
  public async api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, as: ApiAccess = this.admin, contentType = 'application/json'): Promise<{ status: number; body: T }> {
    const r = await kubeFetch(as, path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': contentType } });
    const text = await r.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, body: parsed as T };
  }
}

/** A minimal fetch-like call to the API server (its self-signed certificate is accepted: loopback only). */
export function kubeFetch(as: ApiAccess, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ ok: boolean; status: number; text(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${as.server}${path}`);
    const req = httpsRequest({
      host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: init.method ?? 'GET', rejectUnauthorized: false, timeout: 30000,
      headers: { ...(init.headers ?? {}), authorization: `Bearer ${as.token}`, accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: async () => text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${init.method ?? 'GET'} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

/** Writes a kubeconfig for one identity; returns its path. */
export function writeKubeconfig(dir: string, name: string, a: ApiAccess, namespace?: string): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': name,
    clusters: [{ name, cluster: { server: a.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name, user: { token: a.token } }],
    contexts: [{ name, context: { cluster: name, user: name, ...(namespace ? { namespace } : {}) } }],
  }));
  return file;
}
