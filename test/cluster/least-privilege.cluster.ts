import { get } from './support/apply';
import { ApiAccess } from './support/control-plane';
import { tokenFor } from './support/local-pod';
import { waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { can, podTemplate } from './support/workloads';

// Least privilege as the real API server enforces it (RBAC and ValidatingAdmissionPolicy admission, no mocks): the
// credentials generator's token may write the Secrets it manages and nothing else, although RBAC must give it
// `create` on every Secret; the workflow controller cannot read the Secrets of the pipeline namespace.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('least privilege of the sandbox platform on a real API server', () => {
  const sb = new Sandbox();
  const job = sb.find('Job', /^cd4ml-credentials-/);
  const home = job.metadata.namespace!;
  const generatorSa = podTemplate(job).spec.serviceAccountName as string;
  const generator = `system:serviceaccount:${home}:${generatorSa}`;
  const spec: Array<{ name: string; namespaces: string[] }> = JSON.parse(String((sb.find('ConfigMap', generatorSa).data as Obj)['secrets.json']));
  const namespaces = [...new Set(spec.flatMap((s) => s.namespaces))];
  const managedIn = (ns: string) => spec.filter((s) => s.namespaces.includes(ns)).map((s) => s.name);
  /** The policy that guards the generator's writes in `ns`, as synthesized (found by what its binding selects). */
  const policyOf = (ns: string): Obj => {
    const binding = sb.objects.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding'
      && (o.spec as Obj).matchResources.namespaceSelector.matchLabels['kubernetes.io/metadata.name'] === ns
      && JSON.stringify(sb.find('ValidatingAdmissionPolicy', (o.spec as Obj).policyName).spec).includes(generator));
    if (!binding) throw new Error(`no admission policy binding guards the generator's writes in ${ns}`);
    return sb.find('ValidatingAdmissionPolicy', (binding.spec as Obj).policyName);
  };
  const pipelinesNs = sb.find('LimitRange', 'pipelines').metadata.namespace!;
  const argoNs = sb.find('Deployment', 'workflow-controller').metadata.namespace!;
  const controller = `system:serviceaccount:${argoNs}:${podTemplate(sb.find('Deployment', 'workflow-controller')).spec.serviceAccountName}`;
  let asGenerator: ApiAccess;

  /** A Secret as a request body. */
  const secret = (ns: string, name: string, o: { type?: string; serviceAccount?: string } = {}) => ({
    apiVersion: 'v1', kind: 'Secret', type: o.type ?? 'Opaque',
    metadata: { name, namespace: ns, ...(o.serviceAccount ? { annotations: { 'kubernetes.io/service-account.name': o.serviceAccount } } : {}) },
    ...(o.type === 'kubernetes.io/service-account-token' ? {} : { data: { k: Buffer.from('v').toString('base64') } }),
  });
  /** POSTs a Secret as the generator's own token (a dry run unless told otherwise: admission runs, nothing is stored). */
  async function createAsGenerator(body: Obj, dryRun = true): Promise<{ status: number; message?: string }> {
    const r = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${body.metadata.namespace}/secrets${dryRun ? '?dryRun=All' : ''}`, body, asGenerator);
    return { status: r.status, message: r.body.message };
  }

  beforeAll(async () => {
    await sb.start();
    asGenerator = { server: sb.cp.admin.server, token: await tokenFor(sb.cp, home, generatorSa) };
    // the admission plugin loads a policy some time after its binding is stored: wait until each one answers
    for (const ns of namespaces) {
      await waitFor(`the admission policy of ${ns} to be in force`, async () => ((await createAsGenerator(secret(ns, 'not-managed-probe'))).status === 201 ? undefined : true), 30000, { intervalMs: 500 });
    }
  });
  afterAll(async () => { await sb.stop(); });

  test('RBAC alone would let the generator create any Secret where it writes (why the policy exists)', async () => {
    for (const ns of namespaces) expect({ ns, create: await can(sb.cp, generator, { verb: 'create', resource: 'secrets', namespace: ns, name: 'anything' }) }).toEqual({ ns, create: true });
  });

  test('the generator\'s token may create a Secret it manages, as the Job does: Opaque, by name', async () => {
    for (const ns of namespaces) {
      // given a Secret it manages in this namespace, that does not exist yet
      const [name] = managedIn(ns);
      expect(await get(sb.cp, 'v1', 'Secret', ns, name)).toBeUndefined();
      // when its token creates it for real
      const r = await createAsGenerator(secret(ns, name), false);
      // then the API server admitted it; clean up so the Job makes it with its own values below
      expect({ ns, name, ...r }).toEqual({ ns, name, status: 201, message: undefined });
      expect((await sb.cp.api('DELETE', `/api/v1/namespaces/${ns}/secrets/${name}`)).status).toBe(200);
    }
  });

  test('the generator\'s token may not create a Secret of another name: the policy denies it, with its message', async () => {
    for (const ns of namespaces) {
      const r = await createAsGenerator(secret(ns, 'not-managed'));
      expect({ ns, status: r.status }).toEqual({ ns, status: 422 });
      const policy = policyOf(ns);
      expect(r.message).toContain(`ValidatingAdmissionPolicy '${policy.metadata.name}'`);
      expect(r.message).toContain((policy.spec as Obj).validations[0].message);
      expect(r.message).toContain(managedIn(ns).sort().join(', '));
    }
    // requests of anyone else are not the policy's business
    const admin = await sb.cp.api<Obj>('POST', `/api/v1/namespaces/${home}/secrets?dryRun=All`, secret(home, 'not-managed'));
    expect({ status: admin.status, message: admin.body.message }).toEqual({ status: 201, message: undefined });
  });

  test('the generator\'s token may not mint a service-account token, not even under a name it manages', async () => {
    // given the service account whose token would be worth stealing: the event trigger's, in the pipeline namespace
    const trigger = sb.objects.find((o) => o.kind === 'Secret' && o.metadata.namespace === pipelinesNs && o.metadata.annotations?.['kubernetes.io/service-account.name'] === 'pipeline-trigger');
    expect(trigger).toBeDefined();
    const [name] = managedIn(pipelinesNs);
    expect(name).toBeDefined();
    const typeMessage = (policyOf(pipelinesNs).spec as Obj).validations[1].message as string;
    const annotationMessage = (policyOf(pipelinesNs).spec as Obj).validations[2].message as string;
    // when it asks for a token Secret of that account under a managed name
    const token = await createAsGenerator(secret(pipelinesNs, name, { type: 'kubernetes.io/service-account-token', serviceAccount: 'pipeline-trigger' }));
    // then the policy denies it (the type and the annotation are both refused)
    expect(token.status).toBe(422);
    expect(token.message).toContain(`ValidatingAdmissionPolicy '${policyOf(pipelinesNs).metadata.name}'`);
    expect([typeMessage, annotationMessage].some((m) => token.message!.includes(m))).toBe(true);
    // and an Opaque Secret carrying the binding annotation is refused too
    const annotated = await createAsGenerator(secret(pipelinesNs, name, { serviceAccount: 'pipeline-trigger' }));
    expect({ status: annotated.status, denied: annotated.message?.includes(annotationMessage) }).toEqual({ status: 422, denied: true });
    // and under another name, too
    const other = await createAsGenerator(secret(pipelinesNs, 'stolen-trigger-token', { type: 'kubernetes.io/service-account-token', serviceAccount: 'pipeline-trigger' }));
    expect(other.status).toBe(422);
    expect(await get(sb.cp, 'v1', 'Secret', pipelinesNs, 'stolen-trigger-token')).toBeUndefined();
  });

  test('the real credentials Job still creates every Secret, keeps copies in line, and is refused nothing', async () => {
    // when the Job's container runs as its service account (its own token, as the kubelet would mount it)
    const r = await sb.runJob(job, 'generate');
    // then it succeeded and every Secret exists in every namespace listed
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    for (const s of spec) for (const ns of s.namespaces) expect({ secret: `${ns}/${s.name}`, type: (await get<Obj>(sb.cp, 'v1', 'Secret', ns, s.name))?.type }).toEqual({ secret: `${ns}/${s.name}`, type: 'Opaque' });
    // and a copy that drifted is brought back in line by an update the policy admits
    const copy = spec.find((s) => s.namespaces.length > 1)!;
    const [first, other] = copy.namespaces;
    const drifted = (await get<Obj>(sb.cp, 'v1', 'Secret', other, copy.name))!;
    const key = Object.keys(drifted.data)[0];
    drifted.data[key] = Buffer.from('drifted').toString('base64');
    expect((await sb.cp.api('PUT', `/api/v1/namespaces/${other}/secrets/${copy.name}`, drifted)).status).toBe(200);
    const again = await sb.runJob(job, 'generate');
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    expect(again.stdout).toContain(`updated ${other}/${copy.name}`);
    expect(await sb.secret(other, copy.name)).toEqual(await sb.secret(first, copy.name));
    // while its token still may not add the binding annotation to a Secret it manages
    const managed = (await get<Obj>(sb.cp, 'v1', 'Secret', other, copy.name))!;
    managed.metadata.annotations = { ...(managed.metadata.annotations ?? {}), 'kubernetes.io/service-account.name': 'default' };
    const update = await sb.cp.api<Obj>('PUT', `/api/v1/namespaces/${other}/secrets/${copy.name}?dryRun=All`, managed, asGenerator);
    expect(update.status).toBe(422);
    expect(update.body.message).toContain((policyOf(other).spec as Obj).validations[2].message);
  });

  test('the workflow controller cannot read the pipeline namespace\'s Secrets, only the agent CA bundle (the real authorizer)', async () => {
    // given the Secrets a step pod mounts or a trigger uses
    const controllerConfig = sb.find('ConfigMap', 'workflow-controller-configmap').data as Obj;
    const s3Secret = JSON.parse(controllerConfig.artifactRepository).s3.accessKeySecret.name as string;
    const tokenSecrets = sb.objects.filter((o) => o.kind === 'Secret' && o.metadata.namespace === pipelinesNs && (o as Obj).type === 'kubernetes.io/service-account-token').map((o) => o.metadata.name);
    expect(tokenSecrets).toEqual(expect.arrayContaining(['pipeline-trigger-token', 'pipeline-executor.service-account-token']));
    // then the authorizer refuses the controller each of them, and any list
    for (const name of [s3Secret, ...tokenSecrets]) {
      expect({ name, get: await can(sb.cp, controller, { verb: 'get', resource: 'secrets', namespace: pipelinesNs, name }) }).toEqual({ name, get: false });
    }
    expect(await can(sb.cp, controller, { verb: 'list', resource: 'secrets', namespace: pipelinesNs })).toBe(false);
    // but allows the one Secret it reads there (workflow/controller/agent.go), and the service accounts it reads
    expect(await can(sb.cp, controller, { verb: 'get', resource: 'secrets', namespace: pipelinesNs, name: 'argo-workflows-agent-ca-certificates' })).toBe(true);
    expect(await can(sb.cp, controller, { verb: 'get', resource: 'serviceaccounts', namespace: pipelinesNs })).toBe(true);
    // and the server answers its own token the same way
    const asController: ApiAccess = { server: sb.cp.admin.server, token: await tokenFor(sb.cp, argoNs, controller.split(':').pop()!) };
    const trigger = await sb.cp.api<Obj>('GET', `/api/v1/namespaces/${pipelinesNs}/secrets/pipeline-trigger-token`, undefined, asController);
    expect(trigger.status).toBe(403);
    const s3 = await sb.cp.api<Obj>('GET', `/api/v1/namespaces/${pipelinesNs}/secrets/${s3Secret}`, undefined, asController);
    expect(s3.status).toBe(403);
    const ca = await sb.cp.api<Obj>('GET', `/api/v1/namespaces/${pipelinesNs}/secrets/argo-workflows-agent-ca-certificates`, undefined, asController);
    expect(ca.status).toBe(404);
  });
});
