// The way in from outside the cluster: one Ingress per UI, with TLS from cert-manager or an existing Secret, and the
// UIs' NetworkPolicies opened to the ingress controller's pods only.
//
// Why Ingress and not Gateway API routes: the Ingress API (networking.k8s.io/v1) is in every cluster with no CRDs
// to install, k3d's bundled Traefik serves it, and cert-manager issues a certificate for it from one annotation.
// Gateway API needs its CRDs and an implementation installed first, and how a route reaches an HTTPS backend
// (argo-server serves TLS itself) still differs per implementation (BackendTLSPolicy).
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { checkDnsSubdomain, checkLabelKey, checkLabelValue, checkNoCredential, describeType, Endpoint, isPlainObject, Problems } from '../../lib';
import { componentLabels } from '../k8s/labels';
import { checkPeers, NetworkPeer } from '../k8s/network';
import { ISecret } from '../k8s/secret';

/** Where an Ingress's certificate comes from. */
export class IngressTls {
  /**
   * cert-manager issues it (its ingress-shim reads the annotation): a `ClusterIssuer` by default, or an `Issuer` of
   * each UI's namespace. Each Ingress gets its own Secret, `<name>-tls`, in its namespace.
   * @see https://cert-manager.io/docs/usage/ingress/
   */
  public static certManager(issuer: { readonly clusterIssuer?: string; readonly issuer?: string }): IngressTls {
    // null is no issuer (a JavaScript caller's or a config file's), never a silent Ingress without TLS
    return new IngressTls({ clusterIssuer: issuer?.clusterIssuer ?? undefined, issuer: issuer?.issuer ?? undefined });
  }

  /**
   * An existing `kubernetes.io/tls` Secret (a wildcard certificate, say) with keys `tls.crt` and `tls.key`, which
   * must exist in every namespace with an Ingress (its `requiredIn`).
   */
  public static existingSecret(secret: ISecret): IngressTls {
    return new IngressTls({ secret });
  }

  private constructor(public readonly spec: { readonly clusterIssuer?: string; readonly issuer?: string; readonly secret?: ISecret }) {}
}

/** Host names of the UIs to expose; a UI without a host is not exposed. */
export interface IngressHosts {
  /** MLflow's UI and API, e.g. `mlflow.ml.example.com` (also added to MLflow's allowed hosts). @default - not exposed */
  readonly trackingServer?: string;
  /** argo-server's UI and API, e.g. `argo.ml.example.com`. @default - not exposed */
  readonly workflowServer?: string;
  /**
   * The in-cluster object store's S3 API, e.g. `s3.ml.example.com` (every request is signed with a user's key;
   * SeaweedFS serves no web console). @default - not exposed
   */
  readonly objectStore?: string;
  /**
   * MinIO's web console (MinIO only, `ObjectStoreChoice.minio()`: SeaweedFS serves none), e.g.
   * `minio.ml.example.com`; its users sign in with their keys. @default - not exposed
   */
  readonly objectStoreConsole?: string;
}

/** How the platform's UIs are reached from outside the cluster. */
export interface PlatformIngress {
  /** The IngressClass, e.g. `traefik` (k3d) or `nginx`. Required. */
  readonly className: string;
  /** The ingress controller's pods: the only peer the UIs' NetworkPolicies admit, e.g. `NetworkPeer.pods('kube-system', { 'app.kubernetes.io/name': 'traefik' })`. Required. */
  readonly controller: NetworkPeer;
  /** Where the certificates come from. Required: the UIs carry passwords and tokens. */
  readonly tls: IngressTls;
  /** The UIs to expose, by host name. Required (at least one). */
  readonly hosts: IngressHosts;
  /** Further annotations on every Ingress (controller settings, rate limits). @default {} */
  readonly annotations?: Record<string, string>;
}

const HOST_FIELDS = ['trackingServer', 'workflowServer', 'objectStore', 'objectStoreConsole'] as const;

/** Which object store the platform runs, for what it can expose. */
export type ObjectStoreKind = 'seaweedfs' | 'minio' | 'external';
const FIELDS = ['className', 'controller', 'tls', 'hosts', 'annotations'];

/** Checks ingress settings from TypeScript or JavaScript: one problem per bad field. */
export function checkIngress(problems: Problems, path: string, value: unknown, store: ObjectStoreKind): void {
  if (value === undefined) return;
  const site = (field: string) => ({ path, field: `ingress.${field}` });
  if (!isPlainObject(value)) {
    problems.add({ path, field: 'ingress', value: describeType(value), message: `is ${describeType(value)}, not ingress settings`, fix: 'give { className, controller, tls, hosts }, or leave ingress out (kubectl port-forward)' });
    return;
  }
  for (const key of Object.keys(value)) if (!FIELDS.includes(key)) problems.add({ ...site(key), value: describeType(value[key]), message: 'is not a field of ingress', fix: `use ${FIELDS.join(', ')}` });
  problems.addIf(checkDnsSubdomain(value.className as string, site('className')));
  if (!(value.controller instanceof NetworkPeer)) {
    problems.add({ ...site('controller'), value: describeType(value.controller), message: 'is not a NetworkPeer', fix: 'give the controller\'s pods, e.g. NetworkPeer.pods("kube-system", { "app.kubernetes.io/name": "traefik" })' });
  } else {
    checkPeers([value.controller], site('controller')).forEach((p) => problems.add(p));
    if (value.controller.spec.cidr !== undefined) problems.add({ ...site('controller'), value: value.controller.spec.cidr, message: 'is an address block, not the controller\'s pods', fix: 'give the controller\'s pods, e.g. NetworkPeer.pods("kube-system", { "app.kubernetes.io/name": "traefik" })' });
    else if (Object.keys(value.controller.spec.podSelector ?? {}).length === 0) problems.add({ ...site('controller'), value: value.controller.spec.namespace, message: 'selects every pod of its namespace, not the controller\'s pods', fix: 'give the controller\'s pod labels, e.g. NetworkPeer.pods("kube-system", { "app.kubernetes.io/name": "traefik" })' });
  }
  const tls = value.tls;
  if (!(tls instanceof IngressTls)) {
    problems.add({ ...site('tls'), value: describeType(tls), message: 'is not an IngressTls', fix: 'use IngressTls.certManager({ clusterIssuer: "letsencrypt" }) or IngressTls.existingSecret(SecretRef.fromSecretName("ml-tls", ["tls.crt", "tls.key"]))' });
  } else if (tls.spec.secret !== undefined) {
    const secret: unknown = tls.spec.secret;
    const keys: unknown = isPlainObject(secret) || (typeof secret === 'object' && secret !== null) ? (secret as ISecret).keys : undefined;
    if (!Array.isArray(keys) || typeof (secret as ISecret).availableIn !== 'function') {
      problems.add({ ...site('tls'), value: describeType(secret), message: 'names something that is not a Secret', fix: 'use IngressTls.existingSecret(SecretRef.fromSecretName("ml-tls", ["tls.crt", "tls.key"]))' });
    } else {
      for (const k of ['tls.crt', 'tls.key']) if (!keys.includes(k)) problems.add({ ...site('tls'), value: (secret as ISecret).secretName, message: `names a Secret without the key ${k}`, fix: 'use a kubernetes.io/tls Secret, declared with keys ["tls.crt", "tls.key"]' });
    }
  } else {
    const { clusterIssuer, issuer } = tls.spec;
    if ((clusterIssuer === undefined) === (issuer === undefined)) problems.add({ ...site('tls'), value: { clusterIssuer, issuer }, message: 'names no cert-manager issuer, or both kinds', fix: 'give one: IngressTls.certManager({ clusterIssuer: "letsencrypt" })' });
    const name = clusterIssuer ?? issuer;
    if (name !== undefined) problems.addIf(checkDnsSubdomain(name, site(clusterIssuer !== undefined ? 'tls.clusterIssuer' : 'tls.issuer')));
  }
  const hosts = value.hosts;
  if (!isPlainObject(hosts)) {
    problems.add({ ...site('hosts'), value: describeType(hosts), message: 'is not a map of UIs to host names', fix: 'give e.g. { trackingServer: "mlflow.ml.example.com", workflowServer: "argo.ml.example.com" }' });
  } else {
    const given = HOST_FIELDS.filter((f) => hosts[f] !== undefined);
    if (given.length === 0) problems.add({ ...site('hosts'), value: hosts, message: 'exposes no UI', fix: 'give a host for trackingServer, workflowServer or objectStore' });
    for (const key of Object.keys(hosts)) if (!(HOST_FIELDS as readonly string[]).includes(key)) problems.add({ ...site(`hosts.${key}`), value: hosts[key], message: 'is not a UI of the platform', fix: `use ${HOST_FIELDS.join(', ')}` });
    for (const f of given) {
      const bad = checkDnsSubdomain(hosts[f] as string, site(`hosts.${f}`));
      if (bad) problems.add({ ...bad, fix: `give a host name like "${({ trackingServer: 'mlflow', workflowServer: 'argo', objectStore: 's3', objectStoreConsole: 'minio' } as Record<string, string>)[f]}.ml.example.com"` });
    }
    const seen = new Map<unknown, string>();
    for (const f of given) {
      if (seen.has(hosts[f])) problems.add({ ...site(`hosts.${f}`), value: hosts[f], message: `is also the host of ${seen.get(hosts[f])}`, fix: 'give each UI its own host name' });
      seen.set(hosts[f], f);
    }
    if (hosts.objectStore !== undefined && store === 'external') problems.add({ ...site('hosts.objectStore'), value: hosts.objectStore, message: 'exposes the object store, but it is external: it has its own endpoint', fix: 'drop hosts.objectStore' });
    if (hosts.objectStoreConsole !== undefined && store !== 'minio') problems.add({ ...site('hosts.objectStoreConsole'), value: hosts.objectStoreConsole, message: store === 'external' ? 'exposes a console, but the object store is external: it has its own' : 'exposes a console, but SeaweedFS serves none (only its S3 API, hosts.objectStore)', fix: 'drop hosts.objectStoreConsole' });
  }
  const annotations = value.annotations;
  if (annotations !== undefined) {
    if (!isPlainObject(annotations)) problems.add({ ...site('annotations'), value: describeType(annotations), message: 'is not a map of annotations', fix: 'give e.g. { "nginx.ingress.kubernetes.io/proxy-body-size": "512m" }' });
    else {
      for (const [k, v] of Object.entries(annotations)) {
        problems.addIf(checkLabelKey(k, site(`annotations[${JSON.stringify(k)}]`)));
        if (typeof v !== 'string') problems.addIf(checkLabelValue(v, site(`annotations[${JSON.stringify(k)}]`)));
        else problems.addIf(checkNoCredential(v, site(`annotations[${JSON.stringify(k)}]`), 'annotations are rendered in plain text: give the controller its credentials through a Secret it reads'));
      }
    }
  }
}

/** One UI behind the ingress controller. */
export interface ExposedService {
  /** The Ingress's name (and its certificate Secret's, with `-tls`). */
  readonly name: string;
  /** The external host name. */
  readonly host: string;
  /** The Service as reached in the cluster (its first DNS label is the Service, the second its namespace). */
  readonly endpoint: Endpoint;
  /** Whether the Service itself speaks HTTPS (argo-server). @default false */
  readonly httpsBackend?: boolean;
}

/**
 * Renders an Ingress for one UI in the Service's namespace, TLS only. An HTTPS backend is announced to the
 * controllers whose annotations say so (ingress-nginx's `backend-protocol`); others need their own setting.
 */
export function renderIngress(scope: Construct, id: string, ingress: PlatformIngress, ui: ExposedService): ApiObject {
  const [service, namespace] = ui.endpoint.host.split('.');
  const tls = ingress.tls.spec;
  if (tls.secret) tls.secret.availableIn(namespace);
  const annotations: Record<string, string> = {
    ...(tls.clusterIssuer ? { 'cert-manager.io/cluster-issuer': tls.clusterIssuer } : {}),
    ...(tls.issuer ? { 'cert-manager.io/issuer': tls.issuer } : {}),
    ...(ui.httpsBackend ? { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' } : {}),
    ...(ingress.annotations ?? {}),
  };
  return new ApiObject(scope, id, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: ui.name, namespace, labels: componentLabels('ingress', ui.name, 'ingress'), annotations: Object.keys(annotations).length ? annotations : undefined },
    spec: {
      ingressClassName: ingress.className,
      tls: [{ hosts: [ui.host], secretName: tls.secret ? tls.secret.secretName : `${ui.name}-tls` }],
      rules: [{
        host: ui.host,
        http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: ui.endpoint.port } } } }] },
      }],
    },
  });
}
