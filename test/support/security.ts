import { matches, Obj, podTemplates } from './manifests';

const CREDENTIAL_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE|ACCESS_KEY|CREDENTIAL)/i;

/**
 * Checks the output against SECURITY.md rules 1-9, 11, 12, 17, 20, 21, 22 (one message per violation).
 */
export function securityViolations(objects: Obj[]): string[] {
  const v: string[] = [];
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
      if (!/[:@]/.test(c.image) || /:latest$/.test(c.image)) v.push(`${where}: image ${c.image} is not pinned (rule 8)`);
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
      for (const f of ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) if (o.spec[f] === undefined) v.push(`${id}: ${f} not set (rule 20)`);
    }
    if (o.kind === 'Namespace') {
      const l = o.metadata.labels ?? {};
      if (l['pod-security.kubernetes.io/enforce'] !== 'restricted' || !l['pod-security.kubernetes.io/enforce-version']) v.push(`${id}: not labelled restricted with a pinned version (rule 21)`);
    } else if (o.kind !== 'CustomResourceDefinition' && !o.kind.startsWith('Cluster') && (!o.metadata.namespace || o.metadata.namespace === 'default')) {
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
  return v;
}
