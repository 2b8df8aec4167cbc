import { get, list } from './apply';
import { ApiAccess, ControlPlane } from './control-plane';

// A node without a kubelet: a Node object the scheduler can bind pods to (its capacity says what fits), and the
// part of the kubelet and of Argo's executor that the tier needs: a workflow pod "runs" by its executor reporting a
// WorkflowTaskResult for its node, with the executor's own service-account token, as workflow/executor/taskresult.go
// does, and its status turning Succeeded. Nothing runs in the containers.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const NODE_NAME = 'cd4ml-sim-node';

/** Creates a Ready node with the given capacity and labels (and removes the not-ready taint admission adds). */
export async function createNode(cp: ControlPlane, o: { labels?: Record<string, string>; capacity?: Record<string, string> } = {}): Promise<void> {
  const capacity = { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi', ...(o.capacity ?? {}) };
  const created = await cp.api<Obj>('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux', ...(o.labels ?? {}) } }, spec: {} });
  if (created.status !== 201) throw new Error(`creating Node ${NODE_NAME}: ${created.status} ${JSON.stringify(created.body)}`);
  const node = created.body;
  node.spec.taints = [];
  const updated = await cp.api<Obj>('PUT', `/api/v1/nodes/${NODE_NAME}`, node);
  if (updated.status !== 200) throw new Error(`untainting Node ${NODE_NAME}: ${updated.status} ${JSON.stringify(updated.body)}`);
  const now = new Date().toISOString();
  const status = await cp.api<Obj>('PATCH', `/api/v1/nodes/${NODE_NAME}/status`, {
    status: {
      capacity, allocatable: capacity,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated', lastHeartbeatTime: now, lastTransitionTime: now }],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      nodeInfo: { kubeletVersion: 'v1.36.3', containerRuntimeVersion: 'simulated://1', architecture: 'amd64', operatingSystem: 'linux', kernelVersion: '', osImage: '', bootID: '', machineID: '', systemUUID: '', kubeProxyVersion: '' },
    },
  }, cp.admin, 'application/merge-patch+json');
  if (status.status !== 200) throw new Error(`Node ${NODE_NAME} status: ${status.status} ${JSON.stringify(status.body)}`);
}

/** The env value of a pod's container, e.g. the wait container's ARGO_NODE_ID. */
function envOf(pod: Obj, container: string, name: string): string | undefined {
  const c = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((x: Obj) => x.name === container);
  return (c?.env ?? []).find((e: Obj) => e.name === name)?.value;
}

/**
 * Finishes one workflow pod as the executor and the kubelet would on success: the executor reports the node's
 * outputs (every declared output parameter gets `value(name)`) with `executor`'s token, then the pod's containers
 * terminate with exit code 0.
 */
export async function succeedWorkflowPod(cp: ControlPlane, pod: Obj, executor: ApiAccess, value: (parameter: string) => string, exitCode = 0): Promise<void> {
  const ns = pod.metadata.namespace;
  const workflow = pod.metadata.labels?.['workflows.argoproj.io/workflow'];
  const nodeId = envOf(pod, 'wait', 'ARGO_NODE_ID') ?? pod.metadata.annotations?.['workflows.argoproj.io/node-id'];
  if (!workflow || !nodeId) throw new Error(`pod ${ns}/${pod.metadata.name} is not an Argo workflow pod (no workflow label or node id)`);
  const wf = await get<Obj>(cp, 'argoproj.io/v1alpha1', 'Workflow', ns, workflow);
  if (!wf) throw new Error(`Workflow ${ns}/${workflow} is gone`);
  // the controller hands the resolved template to the executor in the init container's env (workflowpod.go)
  const template = JSON.parse(envOf(pod, 'init', 'ARGO_TEMPLATE') ?? envOf(pod, 'wait', 'ARGO_TEMPLATE') ?? '{}');
  const instanceId = envOf(pod, 'wait', 'ARGO_INSTANCE_ID');
  // the template's output parameters with their values, as the executor saves them (workflow/executor/executor.go
  // SaveParameters: a global name, when the template gives one, goes along, and the controller exports it)
  const parameters = ((template.outputs?.parameters ?? []) as Obj[]).map((p) => ({ name: p.name, ...(p.globalName ? { globalName: p.globalName } : {}), value: value(p.name) }));
  const result = {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTaskResult',
    metadata: {
      name: nodeId, namespace: ns,
      // as the executor labels it (workflow/executor/taskresult.go, v4.0.5): with the controller's instance ID, when
      // the controller has one and gave it to the executor in ARGO_INSTANCE_ID, or the controller never sees it
      labels: {
        'workflows.argoproj.io/workflow': workflow, 'workflows.argoproj.io/report-outputs-completed': 'true',
        ...(instanceId ? { 'workflows.argoproj.io/controller-instanceid': instanceId } : {}),
      },
      ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', name: workflow, uid: wf.metadata.uid }],
    },
    outputs: { ...(parameters.length ? { parameters } : {}), exitCode: String(exitCode) },
    ...(exitCode === 0 ? {} : { phase: 'Failed', message: `exit code ${exitCode}` }),
  };
  const r = await cp.api<Obj>('POST', `/apis/argoproj.io/v1alpha1/namespaces/${ns}/workflowtaskresults`, result, executor);
  if (r.status !== 201) throw new Error(`the executor's WorkflowTaskResult for ${pod.metadata.name}: ${r.status} ${r.body.message ?? JSON.stringify(r.body)}`);

  const now = new Date().toISOString();
  const terminated = (name: string, code: number) => ({ name, ready: false, restartCount: 0, image: 'simulated', imageID: '', started: false, state: { terminated: { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now } } });
  const status = await cp.api<Obj>('PATCH', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/status`, {
    status: {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      initContainerStatuses: ((pod.spec.initContainers ?? []) as Obj[]).map((c) => terminated(c.name, 0)),
      containerStatuses: (pod.spec.containers as Obj[]).map((c) => terminated(c.name, c.name === 'main' ? exitCode : 0)),
    },
  }, cp.admin, 'application/merge-patch+json');
  if (status.status !== 200) throw new Error(`pod ${pod.metadata.name} status: ${status.status} ${JSON.stringify(status.body)}`);
}

/** The workflow pods in a namespace that have not finished yet. */
export async function runningWorkflowPods(cp: ControlPlane, namespace: string): Promise<Obj[]> {
  const pods = await list<Obj>(cp, 'v1', 'Pod', namespace, 'workflows.argoproj.io/workflow');
  return pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp);
}
