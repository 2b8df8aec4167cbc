import { kindKey, matches, Obj, parseEmbedded, podTemplates } from './manifests';

/**
 * Kinds that live outside any namespace (besides Namespace itself and the Cluster* kinds): the ones cd4ml renders,
 * and the other built-in ones a GitOps repository may hold beside them.
 */
const CLUSTER_SCOPED = new Set([
  'CustomResourceDefinition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'StorageClass',
  'PersistentVolume', 'PriorityClass', 'IngressClass', 'RuntimeClass', 'CSIDriver', 'CSINode', 'VolumeAttachment', 'APIService',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding',
  'CertificateSigningRequest', 'FlowSchema', 'PriorityLevelConfiguration', 'Node',
]);

const CREDENTIAL_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE|ACCESS_KEY|CREDENTIAL)/i;

/**
 * Checks the output against SECURITY.md rules 1-9, 11, 12, 17, 20, 21, 22 (one message per violation).
 * @param foreignKinds `apiVersion Kind` of custom kinds the cluster provides (Argo CD's Application, ...): the output
 * holds no CRD that says whether they are namespaced, so rule 21 does not ask them for a namespace (an explicit
 * `default` still fails). @default - none
 */
export function securityViolations(objects: Obj[], foreignKinds: ReadonlySet<string> = new Set()): string[] {
  const v: string[] = [];
  // custom kinds the output declares cluster-scoped have no namespace to check either
  const clusterScoped = new Set([...CLUSTER_SCOPED, ...objects.filter((o) => o.kind === 'CustomResourceDefinition' && o.spec?.scope === 'Cluster').map((c) => c.spec.names?.kind)]);
  const serviceAccounts = new Set(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
  const cronJobNames = new Set(objects.filter((o) => o.kind === 'CronJob').map((o) => o.metadata.name));

  for (const t of podTemplates(objects)) {
    const s = t.spec;
    const psc = s.securityContext ?? {};
    if (psc.runAsNonRoot !== true) v.push(`${t.owner}: pod runAsNonRoot is not true (rule 1)`);
    for (const f of ['runAsUser', 'runAsGroup', 'fsGroup']) if (psc[f] === 0) v.push(`${t.owner}: pod ${f} is 0 (rule 1)`);
    if (s.hostNetwork || s.hostPID || s.hostIPC) v.push(`${t.owner}: host namespaces (rule 5)`);
    for (const vol of s.volumes ?? []) if (vol.hostPath) v.push(`${t.owner}: hostPath volume ${vol.name} (rule 5)`);
    if (!s.serviceAccountName || !serviceAccounts.has(`${t.namespace}/${s.serviceAccountName}`)) v.push(`${t.owner}: service account ${s.serviceAccountName} is not in the output (rule 12)`);
    if (s.automountServiceAccountToken === undefined) v.push(`${t.owner}: automountServiceAccountToken not set explicitly (rule 12)`);
    for (const c of [...(s.initContainers ?? []), ...s.containers]) {
      const where = `${t.owner} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.runAsUser === 0) v.push(`${where}: runAsUser 0 (rule 1)`);
      if (sc.allowPrivilegeEscalation !== false) v.push(`${where}: allowPrivilegeEscalation not false (rule 2)`);
      const drop: string[] = sc.capabilities?.drop ?? [];
      if (!drop.includes('ALL')) v.push(`${where}: capabilities do not drop ALL (rule 3)`);
      for (const add of sc.capabilities?.add ?? []) if (add !== 'NET_BIND_SERVICE') v.push(`${where}: adds capability ${add} (rule 3)`);
      if ((sc.seccompProfile?.type ?? psc.seccompProfile?.type) !== 'RuntimeDefault') v.push(`${where}: seccomp is not RuntimeDefault (rule 4)`);
      if (sc.privileged) v.push(`${where}: privileged (rule 5)`);
      for (const p of c.ports ?? []) if (p.hostPort) v.push(`${where}: hostPort (rule 5)`);
      if (sc.readOnlyRootFilesystem !== true) v.push(`${where}: root filesystem not read-only (rule 6)`);
      const r = c.resources ?? {};
      if (!r.requests?.cpu || !r.requests?.memory || !r.limits?.memory) v.push(`${where}: missing cpu/memory request or memory limit (rule 7)`);
      const lastPart = String(c.image).split('/').pop() ?? '';
      if (!(/@sha256:[a-f0-9]{64}$/.test(c.image) || /:[\w][\w.-]*$/.test(lastPart)) || /:latest$/.test(c.image)) v.push(`${where}: image ${c.image} is not pinned (rule 8)`);
      const isInit = (s.initContainers ?? []).includes(c);
      if (!t.oneShot && !isInit) {
        if (!c.readinessProbe || !c.livenessProbe) v.push(`${where}: long-running container lacks readiness or liveness probe (rule 9)`);
        else if (JSON.stringify(c.readinessProbe) === JSON.stringify(c.livenessProbe)) v.push(`${where}: readiness and liveness probes are identical (rule 9)`);
      }
      for (const e of c.env ?? []) {
        if (e.value !== undefined && CREDENTIAL_NAME.test(e.name)) v.push(`${where}: env ${e.name} is a literal (rule 11)`);
        if (typeof e.value === 'string' && /:\/\/[^/\s:@]+:[^/\s@]+@/.test(e.value)) v.push(`${where}: env ${e.name} holds user:pass@ (rule 11)`);
      }
      for (const a of [...(c.args ?? []), ...(c.command ?? [])]) if (/:\/\/[^/\s:@$]+:[^/\s@]+@/.test(a)) v.push(`${where}: argument holds user:pass@ (rule 11)`);
    }
  }

  for (const o of objects) {
    const id = `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
    if (o.kind === 'Secret' && (o.data || o.stringData)) v.push(`${id}: a Secret with values is rendered (rule 11)`);
    if (o.kind === 'ConfigMap') {
      for (const [k, val] of Object.entries<string>(o.data ?? {})) {
        if (/^[A-Z_][A-Z0-9_]*$/.test(k) && CREDENTIAL_NAME.test(k)) v.push(`${id}: key ${k} looks like a credential (rule 11)`);
        if (/:\/\/[^/\s:@$"]+:[^/\s@"]+@/.test(val)) v.push(`${id}: ${k} holds user:pass@ (rule 11)`);
      }
    }
    if (o.kind === 'StatefulSet') {
      if (!(o.spec.volumeClaimTemplates ?? []).length) v.push(`${id}: no volumeClaimTemplates (rule 17)`);
      const pol = o.spec.persistentVolumeClaimRetentionPolicy;
      if (pol && (pol.whenDeleted !== 'Retain' || pol.whenScaled !== 'Retain')) v.push(`${id}: PVC retention is not Retain (rule 17)`);
    }
    if (o.kind === 'Job' && !cronJobNames.has(o.metadata.name)) {
      for (const f of ['backoffLimit', 'activeDeadlineSeconds']) if (o.spec[f] === undefined) v.push(`${id}: ${f} not set (rule 20)`);
      // a finished setup Job stays (its name carries a hash of its input): GitOps re-creates and re-runs one a TTL deleted
      if (o.spec.ttlSecondsAfterFinished !== undefined) v.push(`${id}: ttlSecondsAfterFinished set, so GitOps re-creates it once it expires (rule 20)`);
    }
    if (o.kind === 'Namespace') {
      const l = o.metadata.labels ?? {};
      if (l['pod-security.kubernetes.io/enforce'] !== 'restricted' || !l['pod-security.kubernetes.io/enforce-version']) v.push(`${id}: not labelled restricted with a pinned version (rule 21)`);
    } else if (!clusterScoped.has(o.kind) && !o.kind.startsWith('Cluster') && (o.metadata.namespace === 'default' || (!o.metadata.namespace && !foreignKinds.has(kindKey(o))))) {
      v.push(`${id}: lands in the default namespace (rule 21)`);
    }
    if (o.kind === 'Service') {
      if ((o.spec.type ?? 'ClusterIP') !== 'ClusterIP') v.push(`${id}: type ${o.spec.type} (rule 22)`);
      if (!(o.spec.ports ?? []).length) v.push(`${id}: no ports (rule 22)`);
      const pods = podTemplates(objects).filter((t) => t.namespace === o.metadata.namespace && matches(o.spec.selector, t.labels));
      if (!o.spec.selector || pods.length === 0) v.push(`${id}: selector matches no pod template (rule 22)`);
    }
    if (o.kind === 'Ingress' && !(o.spec.tls ?? []).length) v.push(`${id}: Ingress without TLS (rule 22)`);
    if (o.kind === 'WorkflowTemplate' || o.kind === 'Workflow') {
      const wf = o.spec;
      if (!wf.serviceAccountName || wf.serviceAccountName === 'default') v.push(`${id}: no dedicated service account (rule 14)`);
      if (wf.automountServiceAccountToken !== false || !wf.executor?.serviceAccountName) v.push(`${id}: step containers get an API token (rule 12/13)`);
      if (wf.securityContext?.runAsNonRoot !== true) v.push(`${id}: pods not non-root (rule 14)`);
      if (!wf.activeDeadlineSeconds) v.push(`${id}: no deadline (rule 14)`);
      if (!wf.ttlStrategy) v.push(`${id}: no TTL (rule 14)`);
      if (!wf.podGC?.strategy) v.push(`${id}: no pod GC (rule 14)`);
      for (const t of wf.templates ?? []) for (const a of [...(t.inputs?.artifacts ?? []), ...(t.outputs?.artifacts ?? [])]) if (a.s3?.accessKeySecret === undefined && a.s3) v.push(`${id}: inline S3 artifact location in ${t.name} (rule 14)`);
    }
    if (o.kind === 'Secret' && o.type !== 'kubernetes.io/service-account-token' && !(o.data || o.stringData)) v.push(`${id}: an empty Secret of type ${o.type} (rule 11)`);
  }
  v.push(...platformRuleViolations(objects));
  return v;
}

/** Rules 10, 13, 15 and 16: default-deny networking, least-privilege Argo RBAC, argo-server auth, MLflow's server flags. */
function platformRuleViolations(objects: Obj[]): string[] {
  const v: string[] = [];
  // 10: every namespace denies all traffic by default.
  for (const ns of objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)) {
    const denies = objects.some((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === ns && Object.keys(o.spec.podSelector?.matchLabels ?? {}).length === 0
      && ['Ingress', 'Egress'].every((t) => (o.spec.policyTypes ?? []).includes(t)) && !o.spec.ingress?.length && !o.spec.egress?.length);
    if (!denies) v.push(`Namespace ${ns}: no default-deny NetworkPolicy (rule 10)`);
  }
  // 13: no wildcards anywhere; the executor's roles grant only workflowtaskresults create/patch; workflow pods' own SA holds nothing.
  for (const r of objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
    for (const rule of r.rules ?? []) if ([...(rule.verbs ?? []), ...(rule.resources ?? []), ...(rule.apiGroups ?? [])].includes('*')) v.push(`${r.kind} ${r.metadata.namespace ?? '-'}/${r.metadata.name}: wildcard rule (rule 13)`);
  }
  for (const cm of objects.filter((o) => o.kind === 'ConfigMap' && o.data?.workflowDefaults)) {
    const defaults = parseEmbedded(cm.data.workflowDefaults).spec ?? {};
    const controller = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'workflow-controller' && o.metadata.namespace === cm.metadata.namespace);
    const args: string[] = controller?.spec.template.spec.containers[0].args ?? [];
    const managed = args[args.indexOf('--managed-namespace') + 1];
    const boundRoles = (sa: string) => objects
      .filter((b) => (b.kind === 'RoleBinding' || b.kind === 'ClusterRoleBinding') && (b.subjects ?? []).some((s: Obj) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === managed))
      .map((b) => ({ binding: b, role: objects.find((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name && (b.kind === 'ClusterRoleBinding' || r.metadata.namespace === b.metadata.namespace)) }));
    for (const { binding, role } of boundRoles(defaults.executor?.serviceAccountName)) {
      if (binding.kind === 'ClusterRoleBinding') v.push(`ClusterRoleBinding ${binding.metadata.name}: binds the workflow executor cluster-wide (rule 13)`);
      const rules = JSON.stringify(role?.rules ?? []);
      if (rules !== JSON.stringify([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }])) v.push(`Role ${role?.metadata.name}: the workflow executor may do more than report task results: ${rules} (rule 13)`);
    }
    for (const { binding } of boundRoles(defaults.serviceAccountName)) v.push(`${binding.kind} ${binding.metadata.name}: binds the workflow pods' own service account (rule 13)`);
  }
  // 15: argo-server authenticates callers.
  for (const d of objects.filter((o) => o.kind === 'Deployment' && o.metadata.name === 'argo-server')) {
    const args: string[] = d.spec.template.spec.containers[0].args ?? [];
    const mode = args[args.indexOf('--auth-mode') + 1];
    if (!args.includes('--auth-mode') || mode === 'server') v.push(`Deployment ${d.metadata.namespace}/argo-server: auth mode ${mode ?? '(default)'} (rule 15)`);
  }
  // 16: MLflow's host check, security middleware, one artifact mode.
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    for (const c of d.spec.template.spec.containers) {
      const args: string[] = c.args ?? [];
      if (c.command?.[0] !== 'mlflow' || args[0] !== 'server') continue;
      const where = `Deployment ${d.metadata.namespace}/${d.metadata.name}`;
      const hosts = args.includes('--allowed-hosts') ? args[args.indexOf('--allowed-hosts') + 1].split(',') : [];
      if (hosts.length === 0 || hosts.some((h) => /^\*+(:\*)?$|^\*\.\*$/.test(h.trim()))) v.push(`${where}: --allowed-hosts missing or open to any host (rule 16)`);
      if (args.includes('--disable-security-middleware')) v.push(`${where}: security middleware disabled (rule 16)`);
      if (!args.includes('--artifacts-destination') || args.includes('--no-serve-artifacts') || args.includes('--default-artifact-root')) v.push(`${where}: not in proxied artifact mode (rule 16)`);
      const migrates = (d.spec.template.spec.initContainers ?? []).some((i: Obj) => JSON.stringify(i.command ?? []).includes('migrate'));
      if (!migrates) v.push(`${where}: no schema migration before serving (rule 16)`);
    }
  }
  return v;
}
