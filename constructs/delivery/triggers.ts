import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkDnsLabel, checkDnsSubdomain, checkNamespace, checkNoNulls, checkPropsObject, checkRefRules, DEFAULT_REF_RULES, describeType, GIT_ZERO_SHA, GitHost, isPlainObject, isRefGlob, Problems,
  refCovers, refPrefix, RefRule, snapshot,
} from '../../lib';
import { checkPeers, componentLabels, ISecret, NetworkPeer, PlatformNamespace, SecretRef, validateRenderedObjects } from '../k8s';
import { ARGO_API_VERSION, ARGO_GROUP, ArgoAuthMode, ArgoCrds, PipelineRunner, Platform, WorkflowEngine } from '../platform';

/**
 * The Secret argo-server reads webhook clients from, in the namespace of the events URL; the name is fixed
 * (argo-workflows v4.0.5 server/auth/webhook/interceptor.go `addWebhookAuthorization`).
 */
export const WEBHOOK_CLIENTS_SECRET = 'argo-workflows-webhook-clients';

/**
 * The parameters the delivery WorkflowTemplate takes, as a push fills them: `environment` (dev, staging or prod),
 * `revision` (the commit, 40 hex characters), `repository` (the clone URL) and `ref` (the full ref pushed).
 */
export const DELIVERY_PARAMETERS = ['environment', 'revision', 'repository', 'ref'] as const;

/** Props of {@link DeliveryTriggers}. */
export interface DeliveryTriggersProps {
  /**
   * The platform whose argo-server receives the Git host's webhooks, or its `WorkflowEngine`. Its argo-server must run
   * in `client` auth mode (the default): in `server` mode a request that matches no webhook client acts as
   * argo-server's own service account.
   */
  readonly platform: Platform | WorkflowEngine;
  /** The CI namespace: the delivery WorkflowTemplate, the bindings and the webhook client's identity live there. @default 'cd4ml-ci' */
  readonly namespace?: string;
  /**
   * Render the namespace (Pod Security "restricted", default-deny NetworkPolicies and DNS, as the platform's own).
   * `false` when something else renders it.
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * The delivery WorkflowTemplates' name prefix: a push to environment `<env>` submits `<templateName>-<env>` (one
   * template per environment, see {@link Delivery}), with the parameters `environment`, `revision`, `repository` and `ref`.
   * @default 'cd4ml-delivery'
   */
  readonly templateName?: string;
  /**
   * The Git host that sends the webhooks: its payload, headers and signature.
   * @default GitHost.GITHUB
   * @see https://argo-workflows.readthedocs.io/en/latest/webhooks/
   */
  readonly gitHost?: GitHost;
  /**
   * Which pushed ref delivers to which environment: exact refs and prefix globs (`refs/tags/v*`), the first matching
   * rule deciding. A rule that repeats or is shadowed by an earlier one is refused.
   * @default - {@link DEFAULT_REF_RULES}: `refs/heads/main` to staging, `refs/tags/v*` to prod, every other branch to dev
   */
  readonly refs?: RefRule[];
  /**
   * Only pushes of this repository start a delivery: GitHub's `owner/name` (`repository.full_name`), GitLab's
   * `group/project` (`project.path_with_namespace`), as the host writes it. Set it when one secret serves several
   * repositories (an organisation's webhook).
   * @default - any repository whose webhook signs with the shared secret
   */
  readonly repository?: string;
  /** The webhook client's service account: its key in the webhook clients Secret. @default - 'github.com' or 'gitlab.com' */
  readonly serviceAccountName?: string;
  /**
   * The Secret `argo-workflows-webhook-clients` in the CI namespace (argo-server reads only that name). It is never
   * rendered: it holds the shared secret. One key per webhook client, named after the service account, whose value is
   * YAML: `type: github` (or `gitlab`) and `secret: <the secret entered on the Git host>`. It must exist in every
   * namespace in `requiredIn`.
   * @default - `SecretRef.fromSecretName('argo-workflows-webhook-clients', [serviceAccountName])`
   */
  readonly webhookClients?: ISecret;
  /**
   * Where the Git host's requests reach argo-server from (an ingress controller's pods, or the host's address ranges):
   * argo-server's NetworkPolicy gains these peers on its port, beside those it has (the platform's ingress controller
   * when it exposes argo-server).
   * @default [] (only the peers argo-server already admits)
   */
  readonly webhookFrom?: NetworkPeer[];
}

const KNOWN_PROPS = ['platform', 'namespace', 'createNamespace', 'templateName', 'gitHost', 'refs', 'repository', 'serviceAccountName', 'webhookClients', 'webhookFrom'];

/** Longest template name: a run is named `<template>-<environment>-<revision>`, at most 63 characters with 12 of the revision. */
const MAX_TEMPLATE_NAME = 63 - 1 - 'staging'.length - 1 - 12;

/**
 * What starts the delivery: a verified push webhook of the Git host, as argo-server's events endpoint takes it.
 *
 * One `WorkflowEventBinding` per ref rule submits the delivery WorkflowTemplate with the push's environment, commit,
 * repository and ref, and names the run after the commit and environment, so a redelivered webhook finds the run
 * existing and starts nothing. The Git host signs each request with a shared secret; argo-server checks the signature
 * against the `argo-workflows-webhook-clients` Secret (not rendered) and then acts as the webhook client's service
 * account, which may list the bindings, read the delivery template and create workflows in the CI namespace, nothing
 * else. argo-server itself may read that Secret, that account and its token there.
 */
export class DeliveryTriggers extends Construct {
  /** The CI namespace. */
  public readonly namespace: string;
  /** The namespace construct, when rendered. */
  public readonly namespaceResource?: PlatformNamespace;
  /** Prefix of the delivery WorkflowTemplates the bindings submit (`<templateName>-<environment>`). */
  public readonly templateName: string;
  /** The Git host. */
  public readonly gitHost: GitHost;
  /** The webhook client's service account (the key in the webhook clients Secret). */
  public readonly serviceAccountName: string;
  /** The Secret Kubernetes fills with that account's token, which argo-server puts on verified requests. */
  public readonly tokenSecretName: string;
  /** The webhook clients Secret (supplied, never rendered). */
  public readonly webhookClients: ISecret;
  /** Where the Git host posts: `/api/v1/events/<namespace>/` on argo-server (mind the trailing slash). */
  public readonly path: string;
  /** The repository pushes must come from, when limited. */
  public readonly repository?: string;
  private readonly ruleList: RefRule[];
  private readonly bindingList: ApiObject[] = [];

  public constructor(scope: Construct, id: string, props: DeliveryTriggersProps) {
    super(scope, id);
    const path = this.node.path;
    const problems = new Problems();
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ platform }');
    if (notProps) problems.add(notProps);
    const given: Partial<DeliveryTriggersProps> = isPlainObject(props) ? snapshot(props) : {};
    checkNoNulls(given, path).forEach((p) => problems.add(p));
    for (const key of Object.keys(given)) {
      if (!KNOWN_PROPS.includes(key)) problems.add({ path, field: key, value: describeType((given as Record<string, unknown>)[key]), message: 'is not a prop of DeliveryTriggers', fix: `use ${KNOWN_PROPS.join(', ')}` });
    }

    // the engine, its runner (for the instance ID its objects carry) and the CRDs
    const target: unknown = given.platform;
    let engine: WorkflowEngine | undefined;
    let runner: PipelineRunner | undefined;
    let crds: ArgoCrds | undefined;
    if (target instanceof Platform) {
      engine = target.workflowEngine;
      runner = target.pipelineRunner;
      crds = target.argoCrds;
    } else if (target instanceof WorkflowEngine) {
      engine = target;
      runner = target.runner;
    } else {
      problems.add({ path, field: 'platform', value: describeType(target), message: 'is not a Platform or a WorkflowEngine', fix: 'pass the platform whose argo-server receives the webhooks: { platform }' });
    }
    // A request that matches no webhook client goes on without a token; argo-server then picks `server` mode when it is
    // enabled, whatever the token (server/auth/mode.go GetMode), and `client` mode refuses it.
    if (engine && engine.authMode === ArgoAuthMode.SERVER) {
      problems.add({
        path, field: 'platform', value: `argo-server auth mode "${engine.authMode}"`,
        message: 'runs argo-server in server auth mode, where a webhook request that matches no webhook client (unsigned, or wrongly signed) acts as argo-server\'s own service account',
        fix: 'run argo-server in client auth mode: leave workflowAuthMode out of the Platform (ArgoAuthMode.CLIENT is the default)',
      });
    }

    this.namespace = given.namespace ?? 'cd4ml-ci';
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }, 'cd4ml-ci'));
    if (engine && this.namespace === engine.namespace) problems.add({ path, field: 'namespace', value: this.namespace, message: 'is the namespace of argo-server and the workflow controller', fix: 'give the CI its own namespace, e.g. "cd4ml-ci"' });
    if (runner && this.namespace === runner.namespace) problems.add({ path, field: 'namespace', value: this.namespace, message: 'is the pipelines\' namespace, whose steps must not reach the delivery\'s credentials', fix: 'give the CI its own namespace, e.g. "cd4ml-ci"' });
    const createNamespace = given.createNamespace ?? true;
    if (typeof createNamespace !== 'boolean') problems.add({ path, field: 'createNamespace', value: createNamespace, message: `is ${describeType(createNamespace)}, not true or false`, fix: 'give true (the default) or false' });

    this.templateName = given.templateName ?? 'cd4ml-delivery';
    const badTemplate = checkDnsLabel(this.templateName, { path, field: 'templateName' });
    problems.addIf(badTemplate);
    if (!badTemplate && this.templateName.length > MAX_TEMPLATE_NAME) {
      problems.add({ path, field: 'templateName', value: this.templateName, message: `is longer than ${MAX_TEMPLATE_NAME} characters (a run is named <template>-<environment>-<commit>, at most 63)`, fix: `shorten it, e.g. "${this.templateName.slice(0, MAX_TEMPLATE_NAME).replace(/-+$/, '')}"` });
    }

    this.gitHost = given.gitHost ?? GitHost.GITHUB;
    if (!(Object.values(GitHost) as unknown[]).includes(this.gitHost)) {
      problems.add({ path, field: 'gitHost', value: this.gitHost, message: 'is not a Git host argo-server verifies here', fix: 'use GitHost.GITHUB ("github") or GitHost.GITLAB ("gitlab")' });
    }
    const rules: unknown = given.refs ?? DEFAULT_REF_RULES;
    checkRefRules(rules, { path, field: 'refs' }).forEach((p) => problems.add(p));
    this.ruleList = Array.isArray(rules) ? (rules as RefRule[]).map((r) => ({ ref: r?.ref, environment: r?.environment })) : [];

    if (given.repository !== undefined) {
      if (typeof given.repository !== 'string' || !/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)+$/.test(given.repository)) {
        problems.add({ path, field: 'repository', value: given.repository, message: 'is not a repository path like "owner/name"', fix: 'give the path the host shows, e.g. "acme/churn-model" (GitHub) or "ml/team/churn-model" (GitLab)' });
      }
      this.repository = given.repository;
    }

    this.serviceAccountName = given.serviceAccountName ?? (this.gitHost === GitHost.GITLAB ? 'gitlab.com' : 'github.com');
    problems.addIf(checkDnsSubdomain(this.serviceAccountName, { path, field: 'serviceAccountName' }));
    // Argo's default token Secret name (util/secrets/secret_name.go TokenName), read by the webhook interceptor
    this.tokenSecretName = `${this.serviceAccountName}.service-account-token`;

    const clients: unknown = given.webhookClients;
    const secret = clients as Partial<ISecret> | undefined;
    if (clients === undefined) {
      // the default reference is made once the account's name has passed its checks
    } else if (typeof clients !== 'object' || clients === null || typeof secret?.secretName !== 'string' || !Array.isArray(secret.keys) || typeof secret.availableIn !== 'function') {
      problems.add({ path, field: 'webhookClients', value: describeType(clients), message: 'is not a Secret reference (an ISecret)', fix: `give SecretRef.fromSecretName('${WEBHOOK_CLIENTS_SECRET}', ['${this.serviceAccountName}'])` });
    } else {
      if (secret.secretName !== WEBHOOK_CLIENTS_SECRET) {
        problems.add({ path, field: 'webhookClients', value: secret.secretName, message: `is not the Secret argo-server reads webhook clients from (it reads only "${WEBHOOK_CLIENTS_SECRET}")`, fix: `refer to SecretRef.fromSecretName('${WEBHOOK_CLIENTS_SECRET}', ['${this.serviceAccountName}'])` });
      }
      if (!secret.keys.includes(this.serviceAccountName)) {
        problems.add({ path, field: 'webhookClients', value: [...secret.keys], message: `declares no key "${this.serviceAccountName}" (the webhook client's service account)`, fix: `declare it: SecretRef.fromSecretName('${WEBHOOK_CLIENTS_SECRET}', ['${this.serviceAccountName}'])` });
      }
    }
    if (given.webhookFrom !== undefined) checkPeers(given.webhookFrom, { path, field: 'webhookFrom' }).forEach((p) => problems.add(p));
    problems.throwIfAny(this);
    // checked above: the rest builds on values that passed
    const wf = engine as WorkflowEngine;
    this.webhookClients = (clients as ISecret | undefined) ?? SecretRef.fromSecretName(WEBHOOK_CLIENTS_SECRET, [this.serviceAccountName]);
    this.webhookClients.availableIn(this.namespace);
    this.path = `/api/v1/events/${this.namespace}/`;
    validateRenderedObjects(this);

    const labels = componentLabels('cd4ml-delivery', this.templateName, 'delivery-trigger');
    if (createNamespace) this.namespaceResource = new PlatformNamespace(this, 'Namespace', { name: this.namespace });

    // --- the webhook client: what argo-server acts as once a request's signature checks out --------------------
    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.serviceAccountName, namespace: this.namespace, labels },
      automountServiceAccountToken: false,
    });
    // Kubernetes fills it with the account's token (no value is rendered); argo-server puts that token on the request
    // as its Authorization header (server/auth/webhook/interceptor.go, util/secrets/secret_name.go)
    new k8s.KubeSecret(this, 'Token', {
      metadata: { name: this.tokenSecretName, namespace: this.namespace, labels, annotations: { 'kubernetes.io/service-account.name': this.serviceAccountName } },
      type: 'kubernetes.io/service-account-token',
    });
    // In client auth mode every API call of the event runs with that token: ReceiveEvent lists the namespace's
    // WorkflowEventBindings (server/event/event_server.go), and each matching binding gets its WorkflowTemplate and
    // creates the Workflow (server/event/dispatch/operation.go dispatch). Nothing else: no update, no delete, no Secret.
    this.role('Client', `${this.templateName}-webhook`, [
      { apiGroups: [ARGO_GROUP], resources: ['workfloweventbindings'], verbs: ['list'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflowtemplates'], resourceNames: [...new Set(this.ruleList.map((r) => `${this.templateName}-${r.environment}`))], verbs: ['get'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflows'], verbs: ['create'] },
    ], { name: this.serviceAccountName, namespace: this.namespace }, labels);
    // argo-server, as itself, reads the webhook clients Secret, then the matching client's ServiceAccount and its token
    // Secret in the namespace of the URL (interceptor.go addWebhookAuthorization, with its own kube client), and records a
    // binding that fails to submit as an Event there (dispatch/operation.go Dispatch, events.NewEventRecorderManager).
    this.role('Server', `${this.templateName}-argo-server`, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [this.webhookClients.secretName, this.tokenSecretName], verbs: ['get'] },
      { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: [this.serviceAccountName], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ], { name: serverServiceAccount(wf), namespace: wf.namespace }, labels);

    // --- one binding per rule --------------------------------------------------------------------------------------
    const instanceLabels = runner?.workflowControllerLabels ?? {};
    const names = new Set<string>();
    this.ruleList.forEach((rule, i) => {
      const earlier = this.ruleList.slice(0, i).filter((e) => refCovers(rule.ref, e.ref)).map((e) => e.ref);
      const name = bindingName(this.templateName, rule.ref, names);
      this.bindingList.push(new ApiObject(this, `Binding-${name}`, {
        apiVersion: ARGO_API_VERSION,
        kind: 'WorkflowEventBinding',
        metadata: { name, namespace: this.namespace, labels: { ...labels, 'cd4ml.io/environment': rule.environment, ...instanceLabels }, annotations: { 'cd4ml.io/ref': rule.ref } },
        spec: this.bindingSpec(rule, earlier),
      }));
    });

    // --- the way in: argo-server's port, from where the webhooks come, unless it is open to them already ---------------
    const port = wf.serverEndpoint.port;
    const admitted = admittedPeers(wf, port);
    const missing = (given.webhookFrom ?? []).filter((p) => !admitted.has(canonical(p.toJson())));
    const unique = [...new Map(missing.map((p) => [canonical(p.toJson()), p])).values()];
    if (unique.length > 0) {
      new k8s.KubeNetworkPolicy(this, 'WebhookIngress', {
        metadata: { name: `${this.templateName}-webhooks`, namespace: wf.namespace, labels },
        spec: {
          podSelector: { matchLabels: { ...wf.server.connections.podSelector } },
          policyTypes: ['Ingress'],
          ingress: [{ from: unique.map((p) => p.toJson() as k8s.NetworkPolicyPeer), ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }] }],
        },
      });
    }

    // namespace first, then what lives in it; the Argo kinds after their CRDs
    for (const obj of this.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject)) {
      if (this.namespaceResource && obj !== this.namespaceResource.resource && obj.metadata.namespace === this.namespace) obj.node.addDependency(this.namespaceResource.resource);
    }
    for (const b of this.bindingList) for (const crd of crds?.resources ?? []) b.node.addDependency(crd);
  }

  /** The ref rules, in the order they are tried (a copy). */
  public get rules(): RefRule[] {
    return this.ruleList.map((r) => ({ ...r }));
  }

  /** The WorkflowEventBindings, one per rule in the order of {@link rules}. */
  public get bindings(): ApiObject[] {
    return [...this.bindingList];
  }

  /** A Role and its binding in the CI namespace. */
  private role(id: string, name: string, rules: k8s.PolicyRule[], subject: { name: string; namespace: string }, labels: Record<string, string>): void {
    new k8s.KubeRole(this, `${id}Role`, { metadata: { name, namespace: this.namespace, labels }, rules });
    new k8s.KubeRoleBinding(this, `${id}RoleBinding`, {
      metadata: { name, namespace: this.namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }],
    });
  }

  /**
   * The binding of one rule. Argo evaluates every binding of the namespace on every event and submits each one that
   * matches (dispatch/operation.go), so the selector of a rule excludes the refs of the earlier rules it covers: one
   * push, one run. The expression environment is argo-server's: `payload` (the JSON body), `metadata` (the request's
   * `x-` headers, lower-cased, each a list of values) and `discriminator` (the URL's last part), and the selector is
   * compiled against the event's own values, so it never dereferences what a host's other events may lack.
   */
  private bindingSpec(rule: RefRule, earlier: readonly string[]): Record<string, unknown> {
    const e = pushExpressions(this.gitHost);
    const refTest = (pattern: string) => (isRefGlob(pattern) ? `hasPrefix(payload.ref, ${JSON.stringify(refPrefix(pattern))})` : `payload.ref == ${JSON.stringify(pattern)}`);
    const selector = [
      ...e.guards,
      ...(this.repository !== undefined ? [`${e.repositoryPath} == ${JSON.stringify(this.repository)}`] : []),
      refTest(rule.ref),
      ...earlier.map((p) => `!(${refTest(p)})`),
    ].join(' && ');
    // A run named after the commit and environment: a redelivered webhook's submission fails with AlreadyExists and
    // starts nothing (the name is an expression over the event: dispatch/operation.go populateWorkflowMetadata).
    const keep = Math.min(40, 63 - this.templateName.length - rule.environment.length - 2);
    const literal = (v: string) => JSON.stringify(v);
    return {
      event: { selector },
      submit: {
        // each environment's own template (Delivery): its service accounts, lock and approval are that environment's
        workflowTemplateRef: { name: `${this.templateName}-${rule.environment}` },
        metadata: {
          name: `${literal(`${this.templateName}-${rule.environment}-`)} + (${e.revision})[0:${keep}]`,
          labels: { 'cd4ml.io/environment': literal(rule.environment), 'cd4ml.io/trigger': literal('push') },
          annotations: { 'cd4ml.io/revision': e.revision, 'cd4ml.io/ref': 'payload.ref' },
        },
        arguments: {
          parameters: DELIVERY_PARAMETERS.map((name) => ({ name, valueFrom: { event: { environment: literal(rule.environment), revision: e.revision, repository: e.repository, ref: 'payload.ref' }[name] } })),
        },
      },
    };
  }
}

/** The expressions over a host's push event: what makes it a push of a commit, and where its facts are. */
interface PushExpressions {
  /** Conditions every push rule requires, cheapest and most telling first (`&&` stops at the first false). */
  readonly guards: string[];
  /** The commit the ref points at after the push. */
  readonly revision: string;
  /** The clone URL. */
  readonly repository: string;
  /** `owner/name` of the repository. */
  readonly repositoryPath: string;
}

/**
 * GitHub: `X-GitHub-Event: push`; a deleted ref has `deleted: true` and an all-zero `after`; `after` of an annotated tag
 * is the tag object's name, `head_commit.id` the commit's. GitLab: `X-Gitlab-Event: Push Hook` / `Tag Push Hook` with
 * `object_kind` `push` / `tag_push`; a deleted ref has an all-zero `after` and no `checkout_sha`, the commit.
 * @see https://docs.github.com/en/webhooks/webhook-events-and-payloads#push
 * @see https://docs.gitlab.com/user/project/integrations/webhook_events/#push-events
 */
function pushExpressions(host: GitHost): PushExpressions {
  const zero = JSON.stringify(GIT_ZERO_SHA);
  const isString = (x: string) => `type(${x}) == "string"`;
  // the commit, 40 hex characters (SHA-1) or 64 (a SHA-256 repository); `matches` only after `type` said string
  const sha = (x: string) => [isString(x), `${x} matches "^[0-9a-f]{40}([0-9a-f]{24})?$"`];
  const common = ['type(payload) == "map"', isString('payload.ref'), isString('payload.after'), `payload.after != ${zero}`];
  if (host === GitHost.GITLAB) {
    const revision = '(payload.checkout_sha ?? payload.after)';
    return {
      guards: [
        'discriminator == ""',
        '(metadata["x-gitlab-event"] == ["Push Hook"] || metadata["x-gitlab-event"] == ["Tag Push Hook"])',
        ...common,
        '(payload.object_kind == "push" || payload.object_kind == "tag_push")',
        ...sha(revision),
        'type(payload.project) == "map"', isString('payload.project.git_http_url'),
      ],
      revision,
      repository: 'payload.project.git_http_url',
      repositoryPath: 'payload.project.path_with_namespace',
    };
  }
  const revision = '(payload.head_commit?.id ?? payload.after)';
  return {
    guards: [
      'discriminator == ""',
      'metadata["x-github-event"] == ["push"]',
      ...common,
      'payload.deleted != true',
      ...sha(revision),
      'type(payload.repository) == "map"', isString('payload.repository.clone_url'),
    ],
    revision,
    repository: 'payload.repository.clone_url',
    repositoryPath: 'payload.repository.full_name',
  };
}

/**
 * A binding's name: `<template>-<ref as words>` (`cd4ml-delivery-branch-main`), at most 63 characters, as Argo labels the
 * runs with it (`workflows.argoproj.io/workflow-event-binding`); a short hash of the ref tells apart names that would clash.
 */
function bindingName(template: string, ref: string, taken: Set<string>): string {
  const words = ref.replace(/^refs\/heads\//, 'branch-').replace(/^refs\/tags\//, 'tag-').replace(/\*$/, '-any').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  let name = `${template}-${words}`;
  if (name.length > 63 || taken.has(name)) name = `${name.slice(0, 56).replace(/-+$/, '')}-${createHash('sha256').update(ref).digest('hex').slice(0, 6)}`;
  taken.add(name);
  return name;
}

/** The service account argo-server runs as, as its Deployment renders it. */
function serverServiceAccount(engine: WorkflowEngine): string {
  const spec = (engine.serverDeployment.toJson() as { spec?: { template?: { spec?: { serviceAccountName?: string } } } }).spec;
  return spec?.template?.spec?.serviceAccountName ?? 'argo-server';
}

/** The peers argo-server's own NetworkPolicy admits on `port` now, as JSON. */
function admittedPeers(engine: WorkflowEngine, port: number): Set<string> {
  const policy = engine.server.connections.node.tryFindChild('Resource');
  const json = policy instanceof ApiObject ? (policy.toJson() as { spec?: { ingress?: Array<{ from?: unknown[]; ports?: Array<{ port?: unknown }> }> } }) : {};
  const rules = (json.spec?.ingress ?? []).filter((r) => (r.ports ?? []).some((p) => p.port === port));
  return new Set(rules.flatMap((r) => (r.from ?? []).map(canonical)));
}

/** JSON with sorted keys (rendered objects come out sorted), to compare peers. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => (Array.isArray(v) ? v.map(sort) : isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v);
  return JSON.stringify(sort(value));
}

