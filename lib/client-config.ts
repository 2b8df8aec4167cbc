// What a data scientist needs to reach a synthesized platform: the client variables MLflow's and Argo's clients
// read, and where the credentials are (commands, never values). Read from the synthesized objects, so the CLI,
// the synth's notes and the Pulumi stack outputs say the same thing whichever stack declared the platform.

/** The little of a Kubernetes object this reads. */
export interface ClientObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: unknown;
  readonly data?: unknown;
}

/** The client configuration of one platform. */
export interface ClientConfig {
  /** Client variables (`MLFLOW_TRACKING_URI`, `ARGO_SERVER`, `ARGO_NAMESPACE`, `ARGO_SECURE`, ...); no secret among them. */
  readonly env: Readonly<Record<string, string>>;
  /** Commands to run first: port-forwards when a UI has no external host, and how to get the credentials. */
  readonly commands: readonly string[];
  /** The UIs' addresses, for people: `{ mlflow, argo }`. */
  readonly urls: Readonly<Record<string, string>>;
}

const component = (o: ClientObject): string | undefined => o.metadata.labels?.['app.kubernetes.io/component'];

interface IngressRule { host?: string; http?: { paths?: Array<{ backend?: { service?: { name?: string } } }> } }

/** The external host of the Ingress in `namespace` that routes to Service `service`, if any. */
function hostOf(objects: readonly ClientObject[], namespace: string, service: string): string | undefined {
  for (const o of objects) {
    if (o.kind !== 'Ingress' || o.metadata.namespace !== namespace) continue;
    const rules = ((o.spec as { rules?: IngressRule[] } | undefined)?.rules ?? []);
    const rule = rules.find((r) => (r.http?.paths ?? []).some((p) => p.backend?.service?.name === service));
    if (rule?.host) return rule.host;
  }
  return undefined;
}

/**
 * The client configuration of the platform among `objects` (a synthesized platform), or undefined when they hold
 * no cd4ml platform (no MLflow or argo-server Service).
 */
export function clientConfig(objects: readonly ClientObject[]): ClientConfig | undefined {
  const mlflow = objects.find((o) => o.kind === 'Service' && component(o) === 'tracking-server');
  const argo = objects.find((o) => o.kind === 'Service' && component(o) === 'argo-server');
  const defaults = objects.find((o) => o.kind === 'ConfigMap' && component(o) === 'pipeline-runner' && o.metadata.name === 'pipeline-defaults');
  const user = objects.find((o) => o.kind === 'ServiceAccount' && component(o) === 'argo-server' && o.metadata.namespace === defaults?.metadata.namespace);
  if (!mlflow || !argo || !defaults) return undefined;
  const mlflowNs = mlflow.metadata.namespace ?? 'default';
  const argoNs = argo.metadata.namespace ?? 'default';
  const pipelinesNs = defaults.metadata.namespace ?? 'default';
  const commands: string[] = [];
  const mlflowHost = hostOf(objects, mlflowNs, mlflow.metadata.name);
  const argoHost = hostOf(objects, argoNs, argo.metadata.name);
  if (!mlflowHost) commands.push(`kubectl -n ${mlflowNs} port-forward svc/${mlflow.metadata.name} 5050:5000 >/dev/null &`);
  if (!argoHost) commands.push(`kubectl -n ${argoNs} port-forward svc/${argo.metadata.name} 2746:2746 >/dev/null &`);
  commands.push(`export MLFLOW_TRACKING_PASSWORD="$(kubectl -n ${mlflowNs} get secret ${mlflow.metadata.name}-admin -o jsonpath='{.data.MLFLOW_TRACKING_PASSWORD}' | base64 -d)"`);
  if (user) commands.push(`export ARGO_TOKEN="Bearer $(kubectl -n ${pipelinesNs} create token ${user.metadata.name} --duration 8h)"`);
  const env: Record<string, string> = {
    MLFLOW_TRACKING_URI: mlflowHost ? `https://${mlflowHost}` : 'http://localhost:5050',
    MLFLOW_TRACKING_USERNAME: 'admin',
    ARGO_SERVER: argoHost ? `${argoHost}:443` : 'localhost:2746',
    ARGO_NAMESPACE: pipelinesNs,
    ARGO_SECURE: 'true',
    // argo-server's own certificate is self-signed: verified only behind the ingress, whose certificate is real
    ARGO_INSECURE_SKIP_VERIFY: argoHost ? 'false' : 'true',
    // the CLI speaks gRPC unless told otherwise, which many ingress controllers do not pass
    ARGO_HTTP1: 'true',
  };
  return {
    env,
    commands,
    urls: { mlflow: env.MLFLOW_TRACKING_URI, argo: argoHost ? `https://${argoHost}` : 'https://localhost:2746' },
  };
}

/** The configuration as a `.env` file: the variables, and the commands to run first as comments. */
export function toDotEnv(config: ClientConfig, title: string): string {
  const lines = [
    `# ${title}: client configuration written by \`cd4ml env\` (no secret in it)`,
    '# Run these first (credentials are fetched, never stored here):',
    ...config.commands.map((c) => `#   ${c}`),
    '# then load this file: set -a; . ./cd4ml.env; set +a',
    ...Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Notes for people, as printed after a synth: where each UI is, and what to run to reach it. */
export function notesOf(config: ClientConfig, title: string): string {
  return [
    `${title}:`,
    `  MLflow UI: ${config.urls.mlflow} (user admin)`,
    `  Argo UI:   ${config.urls.argo} (paste "Bearer <token>")`,
    '  To reach them and get the credentials:',
    ...config.commands.map((c) => `    ${c}`),
    '  Client configuration for a shell: npx cd4ml env [DIST_DIR] > cd4ml.env',
  ].join('\n');
}
