import { Testing } from 'cdk8s';
import { join } from 'path';
import { Construct } from 'constructs';
import { PipelineRunner } from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { buildApp, StackOptions } from '../../../stacks/app';
import { apply, get, KubeObject } from './apply';
import { ControlPlane } from './control-plane';
import { runContainer, ServiceAddresses, startContainer } from './local-pod';
import { PostgresServer } from './postgres';
import { scratch, stop, Started, waitFor } from './processes';
import { tools } from './tools';
import { podTemplate } from './workloads';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * An environment's platform on the tier's real servers: the control plane with everything applied, the
 * credentials the generator Job makes (run as the Job would), and Postgres with the setup Job's databases. Tests add
 * the servers they need (MLflow, Argo) with {@link startWorkload}.
 */
export class Sandbox {
  public readonly objects: KubeObject[];
  public readonly platformObjects: KubeObject[];
  public readonly pipelineObjects: KubeObject[];
  public readonly services = new ServiceAddresses();
  public readonly dir = scratch('sandbox');
  public cp!: ControlPlane;
  public postgres?: PostgresServer;
  private readonly started: Started[] = [];

  /**
   * @param env the environment preset
   * @param morePipelines declares pipelines of a test's own beside the stack's, on the same runner
   */
  public constructor(public readonly env: EnvironmentName = EnvironmentName.SANDBOX, morePipelines?: (scope: Construct, runner: PipelineRunner) => void, options: StackOptions = {}) {
    const { platform, pipelines } = buildApp(env, '/tmp/cd4ml-unused', options);
    morePipelines?.(pipelines, platform.platform.pipelineRunner);
    this.platformObjects = Testing.synth(platform) as KubeObject[];
    this.pipelineObjects = Testing.synth(pipelines) as KubeObject[];
    this.objects = [...this.platformObjects, ...this.pipelineObjects];
  }

  /** The one object of a kind and name (fails clearly when absent). */
  public find(kind: string, name: string | RegExp): KubeObject {
    const o = this.objects.find((x) => x.kind === kind && (typeof name === 'string' ? x.metadata.name === name : name.test(x.metadata.name)));
    if (!o) throw new Error(`the synthesized output has no ${kind} ${name}`);
    return o;
  }

  /** Starts the control plane and applies the platform and the pipelines, as a user would. */
  public async start(): Promise<void> {
    this.cp = await ControlPlane.start();
    // every Namespace first, as every apply order has it (the GitOps layout's cluster folder, the cdk8s CLI's single
    // file, Pulumi's dependencies): the platform copies Secrets into the delivery's CI namespace, which the pipelines'
    // chart declares
    await apply(this.cp, this.objects.filter((o) => o.kind === 'Namespace'));
    await apply(this.cp, this.platformObjects.filter((o) => o.kind !== 'Namespace'));
    await apply(this.cp, this.pipelineObjects.filter((o) => o.kind !== 'Namespace'));
  }

  /** The hosts file local pods see: every Service name at its loopback address. */
  public hosts(): string {
    for (const s of this.objects.filter((o) => o.kind === 'Service')) this.services.address(s.metadata.name, s.metadata.namespace!);
    return this.services.hostsFile(this.dir);
  }

  /** Runs one container of a workload's pod template to completion, as the kubelet would (see local-pod.ts). */
  public async runJob(workload: KubeObject, container: string, o: { path?: string[]; timeoutMs?: number } = {}): Promise<{ status: number; stdout: string; stderr: string; volumes: string }> {
    return runContainer({ cp: this.cp, namespace: workload.metadata.namespace!, pod: podTemplate(workload).spec, container, hosts: this.hosts(), path: o.path ?? [join(tools().python, 'bin'), tools().postgres], timeoutMs: o.timeoutMs });
  }

  /** A Secret's decoded data, from the API server. */
  public async secret(namespace: string, name: string): Promise<Record<string, string>> {
    const s = await get<Obj>(this.cp, 'v1', 'Secret', namespace, name);
    if (!s) throw new Error(`Secret ${namespace}/${name} does not exist`);
    return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  /**
   * Postgres as the StatefulSet would run it (its superuser password from the generated Secret), at the Service's
   * address and port, then the setup Job's script against it.
   */
  public async startPostgres(): Promise<PostgresServer> {
    const sts = this.find('StatefulSet', 'postgres');
    const ns = sts.metadata.namespace!;
    const svc = this.find('Service', 'postgres');
    const container = podTemplate(sts).spec.containers[0];
    const pwRef = (container.env as Obj[]).find((e) => e.name === 'POSTGRES_PASSWORD')!.valueFrom.secretKeyRef;
    const password = (await this.secret(ns, pwRef.name))[pwRef.key];
    this.postgres = await PostgresServer.start({ password, host: this.services.address('postgres', ns), port: (svc.spec as Obj).ports[0].port });
    const setup = await this.runJob(this.find('Job', /^postgres-setup-/), 'setup');
    if (setup.status !== 0) throw new Error(`the Postgres setup Job failed (${setup.status}):\n${setup.stdout}\n${setup.stderr}`);
    return this.postgres;
  }

  /**
   * The object store as its StatefulSet runs it: the init container writes the identities file from the generated
   * Secrets into the pod's memory volume, then `weed` starts with the rendered args (its claim is a local directory),
   * and once its probe answers, the setup Job creates the buckets as the admin identity.
   * @returns the S3 endpoint at the Service's address and port, the server, and the setup Job's output
   */
  public async startObjectStore(): Promise<{ endpoint: string; server: Started; setup: string; identities: string }> {
    const sts = this.find('StatefulSet', 'seaweedfs');
    const ns = sts.metadata.namespace!;
    const template = podTemplate(sts).spec;
    const pod = { ...template, volumes: [...template.volumes, { name: 'data', emptyDir: {} }] };
    const podDir = scratch('pod-seaweedfs');
    const hosts = this.hosts();
    const init = await runContainer({ cp: this.cp, namespace: ns, pod, container: 'identities', hosts, path: [join(tools().python, 'bin')], podDir });
    if (init.status !== 0) throw new Error(`the identities init container failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
    const server = this.track(await startContainer({ cp: this.cp, namespace: ns, pod, container: 'seaweedfs', hosts, path: [tools().seaweedfs], podDir, name: 'seaweedfs' }));
    const port = ((this.find('Service', 'seaweedfs').spec as Obj).ports as Obj[]).find((p) => p.name === 's3')!.port as number;
    const endpoint = `http://${this.services.address('seaweedfs', ns)}:${port}`;
    const probe = (template.containers as Obj[]).find((c) => c.name === 'seaweedfs')!.readinessProbe.httpGet.path as string;
    await waitFor(`SeaweedFS ${endpoint}${probe}`, async () => ((await fetch(`${endpoint}${probe}`).catch(() => undefined))?.ok ? true : undefined), 120000, { proc: server, intervalMs: 500 });
    const setup = await this.runJob(this.find('Job', /^seaweedfs-setup-/), 'setup');
    if (setup.status !== 0) throw new Error(`the SeaweedFS setup Job failed (${setup.status}):\n${setup.stdout}\n${setup.stderr}`);
    return { endpoint, server, setup: setup.stdout, identities: init.stdout };
  }

  /** Registers a process to stop with the sandbox. */
  public track(p: Started): Started {
    this.started.push(p);
    return p;
  }

  public async stop(): Promise<void> {
    for (const p of [...this.started].reverse()) await stop(p);
    await this.postgres?.stop();
    await this.cp?.stop();
  }
}
