import { kindKey, matches, Obj, parseEmbedded, podTemplates, PodTemplate } from './manifests';

/**
 * A Secret that exists in the cluster but not in the output: supplied by the user (Sealed Secrets, External Secrets,
 * by hand), so references to it resolve.
 */
export interface KnownSecret {
  /** Its namespace. */
  readonly namespace: string;
  /** Its name. */
  readonly name: string;
  /** The keys it holds: a reference to any other key dangles. */
  readonly keys: readonly string[];
}

const BUILTIN_GROUPS = new Set(['', 'apps', 'batch', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'policy', 'apiextensions.k8s.io', 'coordination.k8s.io', 'admissionregistration.k8s.io', 'storage.k8s.io']);

/**
 * Every reference in the output that does not resolve inside it (one message each). Secrets count as
 * present when the output renders them, when the credentials generator's spec creates them, or when
 * listed in `known`.
 * @param foreignKinds `apiVersion Kind` of custom kinds the cluster provides (Argo CD's Application, ...): their CRDs
 * are not expected in the output. @default - none: every custom kind needs its CRD in the output
 */
export function danglingReferences(objects: Obj[], known: readonly KnownSecret[] = [], foreignKinds: ReadonlySet<string> = new Set(), knownNamespaces: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const pods = podTemplates(objects);
  const byKey = (kind: string) => new Map(objects.filter((o) => o.kind === kind).map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
  const configMaps = byKey('ConfigMap');
  const services = byKey('Service');
  const roles = byKey('Role');
  const serviceAccounts = byKey('ServiceAccount');

  // Secrets: rendered, generated in the cluster, or supplied.
  const secrets = new Map<string, Set<string>>();
  for (const o of objects.filter((x) => x.kind === 'Secret')) secrets.set(`${o.metadata.namespace}/${o.metadata.name}`, new Set(Object.keys({ ...o.data, ...o.stringData })));
  for (const cm of configMaps.values()) {
    const spec = cm.data?.['secrets.json'];
    if (!spec) continue;
    for (const s of parseEmbedded(spec) as Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }>) {
      for (const ns of s.namespaces) secrets.set(`${ns}/${s.name}`, new Set(Object.keys(s.keys)));
    }
  }
  for (const s of known) secrets.set(`${s.namespace}/${s.name}`, new Set(s.keys));
  const secretHas = (ns: string | undefined, name: string, key?: string) => {
    const keys = secrets.get(`${ns}/${name}`);
    return keys !== undefined && (key === undefined || keys.has(key));
  };
  const configMapHas = (ns: string | undefined, name: string, key?: string) => {
    const cm = configMaps.get(`${ns}/${name}`);
    return cm !== undefined && (key === undefined || key in (cm.data ?? {}));
  };

  for (const t of pods) {
    const volumes = new Set<string>([...(t.spec.volumes ?? []).map((v: Obj) => v.name)]);
    const owner = objects.find((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}` === t.owner);
    for (const c of owner?.spec?.volumeClaimTemplates ?? []) volumes.add(c.metadata.name);
    for (const v of t.spec.volumes ?? []) {
      if (v.configMap && !configMapHas(t.namespace, v.configMap.name)) out.push(`${t.owner}: volume ${v.name} reads missing ConfigMap ${v.configMap.name}`);
      if (v.secret && !secretHas(t.namespace, v.secret.secretName)) out.push(`${t.owner}: volume ${v.name} reads missing Secret ${v.secret.secretName}`);
    }
    for (const c of [...(t.spec.initContainers ?? []), ...t.spec.containers]) {
      const where = `${t.owner} container ${c.name}`;
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) out.push(`${where}: mounts unknown volume ${m.name}`);
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s && !secretHas(t.namespace, s.name, s.key)) out.push(`${where}: env ${e.name} reads ${t.namespace}/${s.name}[${s.key}], which no one creates`);
        const m = e.valueFrom?.configMapKeyRef;
        if (m && !configMapHas(t.namespace, m.name, m.key)) out.push(`${where}: env ${e.name} reads missing ConfigMap key ${m.name}[${m.key}]`);
      }
      for (const f of c.envFrom ?? []) {
        if (f.secretRef && !secretHas(t.namespace, f.secretRef.name)) out.push(`${where}: envFrom missing Secret ${f.secretRef.name}`);
        if (f.configMapRef && !configMapHas(t.namespace, f.configMapRef.name)) out.push(`${where}: envFrom missing ConfigMap ${f.configMapRef.name}`);
      }
    }
    if (t.spec.serviceAccountName && !serviceAccounts.has(`${t.namespace}/${t.spec.serviceAccountName}`)) out.push(`${t.owner}: service account ${t.spec.serviceAccountName} missing`);
  }

  for (const svc of services.values()) {
    const id = `Service ${svc.metadata.namespace}/${svc.metadata.name}`;
    const selected = pods.filter((t) => t.namespace === svc.metadata.namespace && matches(svc.spec.selector, t.labels));
    if (selected.length === 0) out.push(`${id}: selector matches no pods`);
    for (const p of svc.spec.ports ?? []) {
      for (const t of selected) if (!exposes(t, p.targetPort ?? p.port)) out.push(`${id}: targetPort ${p.targetPort} is not a port of ${t.owner}`);
    }
  }

  for (const rb of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const id = `${rb.kind} ${rb.metadata.namespace ?? '-'}/${rb.metadata.name}`;
    if (rb.roleRef.kind === 'Role' && !roles.has(`${rb.metadata.namespace}/${rb.roleRef.name}`)) out.push(`${id}: Role ${rb.roleRef.name} missing`);
    if (rb.roleRef.kind === 'ClusterRole' && !objects.some((o) => o.kind === 'ClusterRole' && o.metadata.name === rb.roleRef.name)) out.push(`${id}: ClusterRole ${rb.roleRef.name} missing`);
    for (const s of rb.subjects ?? []) {
      if (s.kind === 'ServiceAccount' && !serviceAccounts.has(`${s.namespace}/${s.name}`)) out.push(`${id}: subject ServiceAccount ${s.namespace}/${s.name} missing`);
    }
  }

  for (const np of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const id = `NetworkPolicy ${np.metadata.namespace}/${np.metadata.name}`;
    const sel = np.spec.podSelector?.matchLabels ?? {};
    const selected = pods.filter((t) => t.namespace === np.metadata.namespace && matches(sel, t.labels));
    if (Object.keys(sel).length > 0 && selected.length === 0) out.push(`${id}: selects no pod`);
    for (const rule of np.spec.ingress ?? []) {
      for (const p of rule.ports ?? []) for (const t of selected) if (!exposes(t, p.port)) out.push(`${id}: ingress port ${p.port} is not a port of ${t.owner}`);
      for (const peer of rule.from ?? []) checkPeer(peer, id, 'from');
    }
    for (const rule of np.spec.egress ?? []) {
      for (const peer of rule.to ?? []) {
        checkPeer(peer, id, 'to');
        const targets = peerPods(peer);
        if (targets && Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0) {
          for (const p of rule.ports ?? []) for (const t of targets) if (!exposes(t, p.port)) out.push(`${id}: egress port ${p.port} is not a port of ${t.owner}`);
        }
      }
    }
  }
  function peerPods(peer: Obj): PodTemplate[] | undefined {
    if (peer.ipBlock) return undefined;
    const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
    return pods.filter((t) => (ns === undefined || t.namespace === ns) && matches(peer.podSelector?.matchLabels, t.labels));
  }
  function checkPeer(peer: Obj, id: string, side: string): void {
    const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
    // the cluster's own namespaces, and those the user names as provided (an ingress controller's), hold pods the
    // output cannot show
    if (ns === 'kube-system' || peer.ipBlock || (ns !== undefined && knownNamespaces.has(ns))) return;
    if (ns !== undefined && !objects.some((o) => o.kind === 'Namespace' && o.metadata.name === ns)) out.push(`${id}: ${side} namespace ${ns} is not in the output`);
    const labels = peer.podSelector?.matchLabels ?? {};
    if (Object.keys(labels).length > 0 && (peerPods(peer) ?? []).length === 0) out.push(`${id}: ${side} peer ${JSON.stringify(labels)} matches no pod`);
  }

  // In-cluster names anywhere in the output must be Services (and ports) that exist.
  const dns = /\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?(:(\d+))?/g;
  for (const o of objects) {
    const id = `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
    for (const s of strings(o)) {
      for (const m of s.matchAll(dns)) {
        // the API server's own Service is in every cluster (Argo CD Applications name it as their destination)
        if (m[3] === 'default' && m[1] === 'kubernetes') continue;
        const svc = services.get(`${m[3]}/${m[1]}`);
        if (!svc) out.push(`${id}: ${m[0]} names no Service`);
        else if (m[7] !== undefined && !(svc.spec.ports ?? []).some((p: Obj) => p.port === Number(m[7]))) out.push(`${id}: ${m[0]} names a port the Service lacks`);
      }
    }
  }

  // Admission policy bindings name a policy in the output and namespaces that exist.
  for (const b of objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding')) {
    const id = `ValidatingAdmissionPolicyBinding ${b.metadata.name}`;
    if (!objects.some((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name === b.spec.policyName)) out.push(`${id}: policy ${b.spec.policyName} missing`);
    const ns = b.spec.matchResources?.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
    if (ns === undefined) out.push(`${id}: not limited to one namespace`);
    else if (!objects.some((o) => o.kind === 'Namespace' && o.metadata.name === ns)) out.push(`${id}: namespace ${ns} is not in the output`);
  }

  // Custom kinds need their CRDs in the output.
  for (const o of objects) {
    const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
    if (BUILTIN_GROUPS.has(group) || foreignKinds.has(kindKey(o))) continue;
    if (!objects.some((c) => c.kind === 'CustomResourceDefinition' && c.spec.group === group && c.spec.names.kind === o.kind)) out.push(`${o.kind} ${o.metadata.name}: no CRD for ${o.apiVersion} ${o.kind}`);
  }

  // Argo: templates, tasks, parameters, outputs, caches and template references resolve.
  const workflowTemplates = byKey('WorkflowTemplate');
  for (const wt of workflowTemplates.values()) {
    const id = `WorkflowTemplate ${wt.metadata.namespace}/${wt.metadata.name}`;
    const templates = new Map<string, Obj>((wt.spec.templates ?? []).map((t: Obj) => [t.name, t]));
    const params = new Set((wt.spec.arguments?.parameters ?? []).map((p: Obj) => p.name));
    if (!templates.has(wt.spec.entrypoint)) out.push(`${id}: entrypoint ${wt.spec.entrypoint} is not a template`);
    for (const t of templates.values()) {
      const inputs = new Set((t.inputs?.parameters ?? []).map((p: Obj) => p.name));
      for (const s of strings(t.container ?? {})) for (const m of s.matchAll(/\{\{inputs\.parameters\.([\w-]+)\}\}/g)) if (!inputs.has(m[1])) out.push(`${id}: template ${t.name} uses undeclared input ${m[1]}`);
      for (const s of strings(t.memoize ?? {})) for (const m of s.matchAll(/\{\{inputs\.parameters\.([\w-]+)\}\}/g)) if (!inputs.has(m[1])) out.push(`${id}: template ${t.name} memoizes on undeclared input ${m[1]}`);
      const cache = t.memoize?.cache?.configMap?.name;
      // Argo keeps caches in the namespace of the controller that manages the template's namespace.
      const controllerNs = objects.find((d) => d.kind === 'Deployment' && (d.spec.template.spec.containers ?? []).some((c: Obj) => {
        const args: string[] = c.args ?? [];
        return !args.includes('server') && args[args.indexOf('--managed-namespace') + 1] === wt.metadata.namespace && args.includes('--managed-namespace');
      }))?.metadata.namespace;
      if (cache && controllerNs === undefined) out.push(`${id}: template ${t.name} caches, but no workflow controller manages ${wt.metadata.namespace}`);
      else if (cache && !configMapHas(controllerNs, cache)) out.push(`${id}: template ${t.name} caches in ConfigMap ${cache}, missing in the controller's namespace ${controllerNs}`);
      const tasks = new Map<string, Obj>((t.dag?.tasks ?? []).map((k: Obj) => [k.name, k]));
      // a task's direct dependencies: `dependencies`, or the task names in its `depends` expression (`a && b.Succeeded`)
      const direct = (task: Obj): string[] => [...(task.dependencies ?? []), ...String(task.depends ?? '').split(/[^\w-]+/).filter((w) => tasks.has(w))];
      // a task may read the outputs of every task it depends on, directly or through others (Argo resolves ancestors)
      const ancestors = (task: Obj, seen = new Set<string>()): Set<string> => {
        for (const d of direct(task)) if (!seen.has(d)) { seen.add(d); if (tasks.has(d)) ancestors(tasks.get(d)!, seen); }
        return seen;
      };
      for (const task of tasks.values()) {
        const target = templates.get(task.template);
        if (!target) { out.push(`${id}: task ${task.name} runs missing template ${task.template}`); continue; }
        for (const d of task.dependencies ?? []) if (!tasks.has(d)) out.push(`${id}: task ${task.name} depends on missing task ${d}`);
        const declared = new Set((target.inputs?.parameters ?? []).map((p: Obj) => p.name));
        const passed = new Set((task.arguments?.parameters ?? []).map((p: Obj) => p.name));
        for (const n of declared) if (!passed.has(n)) out.push(`${id}: task ${task.name} does not pass input ${n}`);
        for (const n of passed) if (!declared.has(n)) out.push(`${id}: task ${task.name} passes unknown input ${n}`);
        for (const s of strings(task)) {
          for (const m of s.matchAll(/workflow\.parameters(?:\.([\w]+)|\['([\w]+)'\])/g)) if (!params.has(m[1] ?? m[2])) out.push(`${id}: task ${task.name} reads undeclared parameter ${m[1] ?? m[2]}`);
          for (const m of s.matchAll(/tasks(?:\.([\w-]+)|\['([\w-]+)'\])\.outputs\.(parameters|artifacts)(?:\.([\w]+)|\['([\w]+)'\])/g)) {
            const producer = tasks.get(m[1] ?? m[2]);
            const name = m[4] ?? m[5];
            const outputs = producer ? (templates.get(producer.template)?.outputs?.[m[3]] ?? []).map((p: Obj) => p.name) : [];
            if (!producer || !outputs.includes(name)) out.push(`${id}: task ${task.name} reads ${m[3]} ${name} of ${m[1] ?? m[2]}, which does not declare it`);
            else if (!ancestors(task).has(producer.name)) out.push(`${id}: task ${task.name} reads ${producer.name} without depending on it`);
          }
        }
      }
    }
  }
  for (const o of objects.filter((x) => x.kind === 'CronWorkflow' || x.kind === 'WorkflowEventBinding')) {
    const ref = o.kind === 'CronWorkflow' ? o.spec.workflowSpec?.workflowTemplateRef?.name : o.spec.submit?.workflowTemplateRef?.name;
    const wt = workflowTemplates.get(`${o.metadata.namespace}/${ref}`);
    if (!wt) { out.push(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}: template ${ref} missing`); continue; }
    const declared = new Set((wt.spec.arguments?.parameters ?? []).map((p: Obj) => p.name));
    const args = o.kind === 'CronWorkflow' ? o.spec.workflowSpec.arguments?.parameters : o.spec.submit.arguments?.parameters;
    for (const p of args ?? []) if (!declared.has(p.name)) out.push(`${o.kind} ${o.metadata.name}: passes unknown parameter ${p.name}`);
  }

  // The credentials Job may write every Secret it is to create, in every namespace it is to create it in.
  for (const cm of configMaps.values()) {
    const spec = cm.data?.['secrets.json'];
    if (!spec) continue;
    for (const sec of parseEmbedded(spec) as Array<{ name: string; namespaces: string[] }>) {
      for (const ns of sec.namespaces) {
        const role = roles.get(`${ns}/${cm.metadata.name}`);
        const named = (role?.rules ?? []).some((r: Obj) => (r.resourceNames ?? []).includes(sec.name) && r.verbs.includes('get'));
        if (!named) out.push(`Role ${ns}/${cm.metadata.name}: the credentials Job may not read ${sec.name} there`);
      }
    }
  }

  // The Argo controller's secret selectors: artifact secrets in the managed namespace, archive secrets in its own.
  for (const cm of configMaps.values()) {
    if (cm.metadata.name !== 'workflow-controller-configmap') continue;
    const controller = objects.find((o) => o.kind === 'Deployment' && o.metadata.namespace === cm.metadata.namespace && o.metadata.name === 'workflow-controller');
    const args: string[] = controller?.spec.template.spec.containers[0].args ?? [];
    const managed = args[args.indexOf('--managed-namespace') + 1];
    const s3 = parseEmbedded(cm.data.artifactRepository ?? '{}').s3 ?? {};
    for (const ref of [s3.accessKeySecret, s3.secretKeySecret].filter(Boolean)) {
      if (!secretHas(managed, ref.name, ref.key)) out.push(`workflow-controller-configmap: artifact secret ${managed}/${ref.name}[${ref.key}] missing`);
    }
    const pg = parseEmbedded(cm.data.persistence ?? '{}').postgresql;
    for (const ref of pg ? [pg.userNameSecret, pg.passwordSecret] : []) {
      if (!secretHas(cm.metadata.namespace, ref.name, ref.key)) out.push(`workflow-controller-configmap: archive secret ${cm.metadata.namespace}/${ref.name}[${ref.key}] missing`);
      // The controller and argo-server read it as themselves: their Roles must allow it.
      for (const sa of ['workflow-controller', 'argo-server']) {
        const may = objects.filter((b) => b.kind === 'RoleBinding' && b.metadata.namespace === cm.metadata.namespace && (b.subjects ?? []).some((x: Obj) => x.name === sa))
          .map((b) => roles.get(`${cm.metadata.namespace}/${b.roleRef.name}`))
          .some((r) => (r?.rules ?? []).some((rule: Obj) => rule.resources.includes('secrets') && rule.verbs.includes('get') && (!rule.resourceNames || rule.resourceNames.includes(ref.name))));
        if (!may) out.push(`workflow-controller-configmap: ${sa} may not read the archive secret ${ref.name}`);
      }
    }
    const defaults = parseEmbedded(cm.data.workflowDefaults ?? '{}').spec ?? {};
    for (const sa of [defaults.serviceAccountName, defaults.executor?.serviceAccountName].filter(Boolean)) {
      if (!serviceAccounts.has(`${managed}/${sa}`)) out.push(`workflow-controller-configmap: default service account ${managed}/${sa} missing`);
    }
  }
  return out;
}

/** Whether a pod template exposes a port (by number or by name). */
function exposes(t: PodTemplate, port: number | string): boolean {
  return [...(t.spec.initContainers ?? []), ...t.spec.containers].some((c: Obj) => (c.ports ?? []).some((p: Obj) => p.containerPort === port || p.name === port));
}

/** Every string value in a JSON value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}
