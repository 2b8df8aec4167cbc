import { ApiObject, Chart, Testing } from 'cdk8s';
import { ArgoAuthMode, NetworkPeer, Platform, PlatformProps, SecretRef } from '../../../constructs';
import { DeliveryTriggers, DeliveryTriggersProps, WEBHOOK_CLIENTS_SECRET } from '../../../constructs/delivery/triggers';
import { Cd4mlValidationError, EnvironmentName, Problem } from '../../../lib';
import { GIT_ZERO_SHA, GitHost } from '../../../lib/ci-trigger';
import { Manifests, Obj, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';
import { securityViolations } from '../../support/security';

type Props = Omit<DeliveryTriggersProps, 'platform'>;

/** A platform and its delivery triggers, synthesized together (validated first, as `app.synth()` does). */
function build(props: Props = {}, platformProps: PlatformProps = {}): { m: Manifests; triggers: DeliveryTriggers } {
  let triggers!: DeliveryTriggers;
  const m = synth((chart) => {
    const platform = new Platform(chart, 'platform', platformProps);
    triggers = new DeliveryTriggers(chart, 'delivery', { platform, ...props });
  });
  return { m, triggers };
}

/** The problems the construct reports for props given as a JavaScript caller might (never a TypeError). */
function problemsFor(props: unknown, platformProps: PlatformProps = {}): Problem[] {
  const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
  const platform = new Platform(chart, 'platform', platformProps);
  const given = typeof props === 'function' ? (props as (p: Platform) => unknown)(platform) : props;
  try {
    new DeliveryTriggers(chart, 'delivery', given as DeliveryTriggersProps);
  } catch (e) {
    if (!(e instanceof Cd4mlValidationError)) throw e;
    return [...e.problems];
  }
  throw new Error('no problem was reported');
}

const binding = (m: Manifests, name: string): Obj => m.find('WorkflowEventBinding', name, 'cd4ml-ci');
const selectorOf = (m: Manifests, name: string): string => binding(m, name).spec.event.selector;
const ZERO = JSON.stringify(GIT_ZERO_SHA);

describe('DeliveryTriggers', () => {
  describe('given the default mapping on GitHub', () => {
    const { m, triggers } = build();

    test('renders the CI namespace as the platform renders its own: restricted Pod Security, default deny, DNS', () => {
      const ns = m.find('Namespace', 'cd4ml-ci');
      expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.27' });
      expect(m.find('NetworkPolicy', 'default-deny', 'cd4ml-ci').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      expect(m.has('NetworkPolicy', 'allow-dns', 'cd4ml-ci')).toBe(true);
      // and before everything that lives in it
      for (const o of m.objects.filter((x) => x.metadata?.namespace === 'cd4ml-ci')) expect(m.objects.indexOf(o)).toBeGreaterThan(m.indexOf('Namespace', 'cd4ml-ci'));
      expect(triggers.path).toBe('/api/v1/events/cd4ml-ci/');
    });

    test('one binding per rule, named after its ref, labelled with its environment', () => {
      expect(triggers.rules).toEqual([
        { ref: 'refs/heads/main', environment: EnvironmentName.STAGING },
        { ref: 'refs/tags/v*', environment: EnvironmentName.PROD },
        { ref: 'refs/heads/*', environment: EnvironmentName.DEV },
      ]);
      expect(m.all('WorkflowEventBinding').map((b) => `${b.metadata.name}:${b.metadata.labels['cd4ml.io/environment']}`)).toEqual([
        'cd4ml-delivery-branch-main:staging', 'cd4ml-delivery-tag-v-any:prod', 'cd4ml-delivery-branch-any:dev',
      ]);
      expect(triggers.bindings.map((b) => b.name)).toEqual(['cd4ml-delivery-branch-main', 'cd4ml-delivery-tag-v-any', 'cd4ml-delivery-branch-any']);
    });

    test('each selector matches a GitHub push of its refs only: not a deleted ref, not another event, not another URL', () => {
      for (const name of ['cd4ml-delivery-branch-main', 'cd4ml-delivery-tag-v-any', 'cd4ml-delivery-branch-any']) {
        const s = selectorOf(m, name);
        // argo-server's environment: headers in `metadata`, lower-cased, each a list (server/event/dispatch/operation.go metaData)
        expect(s).toContain('metadata["x-github-event"] == ["push"]');
        expect(s).toContain('discriminator == ""');
        expect(s).toContain('payload.deleted != true');
        expect(s).toContain(`payload.after != ${ZERO}`);
        // the commit: head_commit.id (an annotated tag's `after` is the tag object), a full hex name
        expect(s).toContain('(payload.head_commit?.id ?? payload.after) matches "^[0-9a-f]{40}([0-9a-f]{24})?$"');
        // type checks come before what they guard
        expect(s.indexOf('type(payload) == "map"')).toBeLessThan(s.indexOf('payload.deleted'));
        expect(s.indexOf('type((payload.head_commit?.id ?? payload.after)) == "string"')).toBeLessThan(s.indexOf('matches'));
      }
      expect(selectorOf(m, 'cd4ml-delivery-branch-main')).toMatch(/ && payload\.ref == "refs\/heads\/main"$/);
      expect(selectorOf(m, 'cd4ml-delivery-tag-v-any')).toMatch(/ && hasPrefix\(payload\.ref, "refs\/tags\/v"\)$/);
      // other branches: every branch but main, so one push starts one run
      expect(selectorOf(m, 'cd4ml-delivery-branch-any')).toMatch(/ && hasPrefix\(payload\.ref, "refs\/heads\/"\) && !\(payload\.ref == "refs\/heads\/main"\)$/);
    });

    test('submits the delivery template with the environment, the commit, the clone URL and the ref', () => {
      const submit = binding(m, 'cd4ml-delivery-tag-v-any').spec.submit;
      // each environment's own template (Delivery renders them)
      expect(submit.workflowTemplateRef).toEqual({ name: 'cd4ml-delivery-prod' });
      expect(submit.arguments.parameters).toEqual([
        { name: 'environment', valueFrom: { event: '"prod"' } },
        { name: 'revision', valueFrom: { event: '(payload.head_commit?.id ?? payload.after)' } },
        { name: 'repository', valueFrom: { event: 'payload.repository.clone_url' } },
        { name: 'ref', valueFrom: { event: 'payload.ref' } },
      ]);
      // label values are expressions to argo-server: string literals here
      expect(submit.metadata.labels).toEqual({ 'cd4ml.io/environment': '"prod"', 'cd4ml.io/trigger': '"push"' });
    });

    test('names a run after its environment and commit, so a redelivered webhook cannot start a second one', () => {
      expect(binding(m, 'cd4ml-delivery-branch-main').spec.submit.metadata.name).toBe('"cd4ml-delivery-staging-" + ((payload.head_commit?.id ?? payload.after))[0:40]');
      expect(binding(m, 'cd4ml-delivery-branch-any').spec.submit.metadata.name).toBe('"cd4ml-delivery-dev-" + ((payload.head_commit?.id ?? payload.after))[0:40]');
      // at most 63 characters: Argo labels the run's pods with its name
      expect('cd4ml-delivery-staging-'.length + 40).toBeLessThanOrEqual(63);
    });

    test('the webhook client may list the bindings, read the delivery template and create workflows in the CI namespace, nothing more', () => {
      expect(m.find('ServiceAccount', 'github.com', 'cd4ml-ci').automountServiceAccountToken).toBe(false);
      // Argo's default token Secret name (util/secrets/secret_name.go): Kubernetes fills it, nothing is rendered in it
      const token = m.find('Secret', 'github.com.service-account-token', 'cd4ml-ci');
      expect(token).toMatchObject({ type: 'kubernetes.io/service-account-token', metadata: { annotations: { 'kubernetes.io/service-account.name': 'github.com' } } });
      expect(token.data).toBeUndefined();
      expect(token.stringData).toBeUndefined();
      expect(m.find('Role', 'cd4ml-delivery-webhook', 'cd4ml-ci').rules).toEqual([
        { apiGroups: ['argoproj.io'], resources: ['workfloweventbindings'], verbs: ['list'] },
        { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], resourceNames: ['cd4ml-delivery-staging', 'cd4ml-delivery-prod', 'cd4ml-delivery-dev'], verbs: ['get'] },
        { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['create'] },
      ]);
      expect(m.find('RoleBinding', 'cd4ml-delivery-webhook', 'cd4ml-ci').subjects).toEqual([{ kind: 'ServiceAccount', name: 'github.com', namespace: 'cd4ml-ci' }]);
    });

    test('argo-server may read the webhook clients, that account and its token, and record Events there; nothing else', () => {
      expect(m.find('Role', 'cd4ml-delivery-argo-server', 'cd4ml-ci').rules).toEqual([
        { apiGroups: [''], resources: ['secrets'], resourceNames: [WEBHOOK_CLIENTS_SECRET, 'github.com.service-account-token'], verbs: ['get'] },
        { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: ['github.com'], verbs: ['get'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ]);
      expect(m.find('RoleBinding', 'cd4ml-delivery-argo-server', 'cd4ml-ci').subjects).toEqual([{ kind: 'ServiceAccount', name: 'argo-server', namespace: 'argo' }]);
      expect(m.all('ClusterRole')).toEqual([]);
      expect(m.all('ClusterRoleBinding')).toEqual([]);
    });

    test('does not render the webhook clients Secret: it refers to it in the CI namespace', () => {
      expect(m.has('Secret', WEBHOOK_CLIENTS_SECRET)).toBe(false);
      expect(triggers.webhookClients.secretName).toBe(WEBHOOK_CLIENTS_SECRET);
      expect(triggers.webhookClients.keys).toEqual(['github.com']);
      expect(triggers.webhookClients.requiredIn).toEqual(['cd4ml-ci']);
    });

    test('meets the security bar, and every reference resolves once the webhook clients Secret is supplied, but the delivery template', () => {
      expect(securityViolations(m.objects)).toEqual([]);
      // the delivery WorkflowTemplate is built later, beside these bindings: it is the one reference left open
      expect(danglingReferences(m.objects, [{ namespace: 'cd4ml-ci', name: WEBHOOK_CLIENTS_SECRET, keys: ['github.com'] }])).toEqual(
        [['branch-main', 'staging'], ['tag-v-any', 'prod'], ['branch-any', 'dev']].map(([b, env]) => `WorkflowEventBinding cd4ml-ci/cd4ml-delivery-${b}: template cd4ml-delivery-${env} missing`),
      );
      // no NetworkPolicy of its own: argo-server admits nobody new by default
      expect(m.all('NetworkPolicy').filter((p) => p.metadata.namespace === 'argo').map((p) => p.metadata.name).sort()).toEqual(['allow-dns', 'argo-server', 'default-deny', 'workflow-controller']);
    });
  });

  test('on GitLab: the Push Hook and Tag Push Hook events, the commit from checkout_sha, the project\'s clone URL', () => {
    const { m, triggers } = build({ gitHost: GitHost.GITLAB });
    const s = selectorOf(m, 'cd4ml-delivery-tag-v-any');
    expect(s).toContain('(metadata["x-gitlab-event"] == ["Push Hook"] || metadata["x-gitlab-event"] == ["Tag Push Hook"])');
    expect(s).toContain('(payload.object_kind == "push" || payload.object_kind == "tag_push")');
    expect(s).toContain(`payload.after != ${ZERO}`);
    expect(s).toContain('(payload.checkout_sha ?? payload.after) matches "^[0-9a-f]{40}([0-9a-f]{24})?$"');
    expect(s).not.toContain('x-github-event');
    expect(binding(m, 'cd4ml-delivery-tag-v-any').spec.submit.arguments.parameters.map((p: Obj) => [p.name, p.valueFrom.event])).toEqual([
      ['environment', '"prod"'], ['revision', '(payload.checkout_sha ?? payload.after)'], ['repository', 'payload.project.git_http_url'], ['ref', 'payload.ref'],
    ]);
    expect(triggers.serviceAccountName).toBe('gitlab.com');
    expect(m.find('Role', 'cd4ml-delivery-argo-server', 'cd4ml-ci').rules[0].resourceNames).toEqual([WEBHOOK_CLIENTS_SECRET, 'gitlab.com.service-account-token']);
  });

  test('a rule list of its own: the first matching rule decides, later rules exclude the earlier ones they cover', () => {
    const { m } = build({
      namespace: 'ml-ci',
      templateName: 'deliver',
      repository: 'acme/churn-model',
      refs: [
        { ref: 'refs/heads/release/*', environment: EnvironmentName.STAGING },
        { ref: 'refs/tags/v*', environment: EnvironmentName.PROD },
        { ref: 'refs/heads/*', environment: EnvironmentName.DEV },
      ],
    });
    const s = (name: string) => m.find('WorkflowEventBinding', name, 'ml-ci').spec.event.selector as string;
    expect(s('deliver-branch-release-any')).toMatch(/payload\.repository\.full_name == "acme\/churn-model" && hasPrefix\(payload\.ref, "refs\/heads\/release\/"\)$/);
    expect(s('deliver-tag-v-any')).toMatch(/ && hasPrefix\(payload\.ref, "refs\/tags\/v"\)$/);
    // the tag rule covers no branch: only the release rule is excluded from the branches
    expect(s('deliver-branch-any')).toMatch(/ && hasPrefix\(payload\.ref, "refs\/heads\/"\) && !\(hasPrefix\(payload\.ref, "refs\/heads\/release\/"\)\)$/);
    expect(m.find('Role', 'deliver-webhook', 'ml-ci').rules[1].resourceNames).toEqual(['deliver-staging', 'deliver-prod', 'deliver-dev']);
    expect(m.find('WorkflowEventBinding', 'deliver-branch-any', 'ml-ci').spec.submit.metadata.name).toBe('"deliver-dev-" + ((payload.head_commit?.id ?? payload.after))[0:40]');
  });

  test('the platform\'s instance ID labels every binding, as argo-server lists only those (server/event/event_server.go)', () => {
    const { m } = build({}, { workflowInstanceId: 'ml-platform' });
    for (const b of m.all('WorkflowEventBinding')) expect(b.metadata.labels['workflows.argoproj.io/controller-instanceid']).toBe('ml-platform');
  });

  test('takes the WorkflowEngine instead of the platform, and finds the instance ID of the runner it manages', () => {
    const m = synth((chart) => {
      const platform = new Platform(chart, 'platform', { workflowInstanceId: 'ml-platform' });
      new DeliveryTriggers(chart, 'delivery', { platform: platform.workflowEngine });
    });
    expect(m.find('WorkflowEventBinding', 'cd4ml-delivery-branch-main', 'cd4ml-ci').metadata.labels['workflows.argoproj.io/controller-instanceid']).toBe('ml-platform');
    expect(m.find('RoleBinding', 'cd4ml-delivery-argo-server', 'cd4ml-ci').subjects[0]).toEqual({ kind: 'ServiceAccount', name: 'argo-server', namespace: 'argo' });
  });

  test('in a namespace rendered elsewhere (createNamespace: false), renders no Namespace', () => {
    const { m } = build({ createNamespace: false });
    expect(m.has('Namespace', 'cd4ml-ci')).toBe(false);
    expect(m.has('WorkflowEventBinding', 'cd4ml-delivery-branch-main', 'cd4ml-ci')).toBe(true);
  });

  describe('the way in for the Git host', () => {
    test('a peer argo-server does not admit yet gets a NetworkPolicy of its own on argo-server\'s port', () => {
      const { m } = build({ webhookFrom: [NetworkPeer.cidr('192.30.252.0/22'), NetworkPeer.cidr('192.30.252.0/22')] });
      const policy = m.find('NetworkPolicy', 'cd4ml-delivery-webhooks', 'argo');
      expect(policy.spec).toEqual({
        podSelector: { matchLabels: m.find('NetworkPolicy', 'argo-server', 'argo').spec.podSelector.matchLabels },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ ipBlock: { cidr: '192.30.252.0/22' } }], ports: [{ protocol: 'TCP', port: 2746 }] }],
      });
      expect(danglingReferences(m.objects, [{ namespace: 'cd4ml-ci', name: WEBHOOK_CLIENTS_SECRET, keys: ['github.com'] }]).filter((d) => !/template cd4ml-delivery-(dev|staging|prod) missing/.test(d))).toEqual([]);
    });

    test('the ingress controller that already reaches argo-server adds nothing', () => {
      const controller = NetworkPeer.pods('ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' });
      const { m } = build({ webhookFrom: [controller] }, { uiIngressFrom: [controller] });
      expect(m.has('NetworkPolicy', 'cd4ml-delivery-webhooks', 'argo')).toBe(false);
    });
  });

  describe('bad input fails at synth, in one report naming the field, the value and the fix', () => {
    test('fails when argo-server runs in server auth mode: one problem, naming the prop and the fix', () => {
      const problems = problemsFor((platform: Platform) => ({ platform }), { workflowAuthMode: ArgoAuthMode.SERVER });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ path: 'test/delivery', field: 'platform', value: 'argo-server auth mode "server"' });
      expect(problems[0].message).toMatch(/acts as argo-server's own service account/);
      expect(problems[0].fix).toMatch(/client auth mode: leave workflowAuthMode out/);
    });

    test('fails when a rule repeats or is shadowed by an earlier one, or is not a delivery ref or environment', () => {
      const problems = problemsFor((platform: Platform) => ({
        platform,
        refs: [
          { ref: 'refs/heads/*', environment: EnvironmentName.DEV },
          { ref: 'refs/heads/main', environment: EnvironmentName.STAGING },
          { ref: 'refs/heads/*', environment: EnvironmentName.PROD },
          { ref: 'main', environment: EnvironmentName.STAGING },
          { ref: 'refs/tags/*-rc', environment: EnvironmentName.STAGING },
          { ref: 'refs/tags/v1', environment: EnvironmentName.SANDBOX },
          { ref: 'refs/heads/a"b', environment: EnvironmentName.DEV },
        ],
      }));
      const by = (field: string) => problems.find((p) => p.field === field);
      expect(by('refs[1].ref')).toMatchObject({ value: 'refs/heads/main', message: expect.stringMatching(/unreachable: refs\[0\] \("refs\/heads\/\*"\) comes first/), fix: expect.stringMatching(/move it before refs\[0\]/) });
      expect(by('refs[2].ref')).toMatchObject({ value: 'refs/heads/*', message: expect.stringMatching(/overlaps refs\[0\]/) });
      expect(by('refs[3].ref')).toMatchObject({ value: 'main', fix: expect.stringMatching(/refs\/heads\/main/) });
      expect(by('refs[4].ref')?.message).toMatch(/"\*" before its end/);
      expect(by('refs[5].environment')).toMatchObject({ value: 'sandbox', fix: expect.stringMatching(/EnvironmentName\.DEV \("dev"\)/) });
      expect(by('refs[6].ref')?.message).toMatch(/characters a rule does not take/);
      expect(problems).toHaveLength(6);
    });

    test('fails when the mapping is empty, not a list, or its rules are not rules (a JavaScript caller), without a TypeError', () => {
      expect(problemsFor((platform: Platform) => ({ platform, refs: [] }))[0]).toMatchObject({ field: 'refs', message: expect.stringMatching(/empty/) });
      expect(problemsFor((platform: Platform) => ({ platform, refs: 'refs/heads/main' }))[0]).toMatchObject({ field: 'refs', value: 'a string' });
      expect(problemsFor((platform: Platform) => ({ platform, refs: [null, 7, { ref: 'refs/heads/x', environment: 'dev', env: 'x' }] })).map((p) => p.field)).toEqual(['refs[0]', 'refs[1]', 'refs[2].env']);
    });

    test('fails when the platform is missing or not a platform, the props are not an object, or a prop is unknown', () => {
      expect(problemsFor(undefined).map((p) => p.field)).toEqual(['props', 'platform']);
      expect(problemsFor({ platform: 'argo' })[0]).toMatchObject({ field: 'platform', value: 'a string', fix: expect.stringMatching(/pass the platform/) });
      expect(problemsFor((platform: Platform) => ({ platform, gitHub: true }))[0]).toMatchObject({ field: 'gitHub', message: 'is not a prop of DeliveryTriggers' });
      expect(problemsFor((platform: Platform) => ({ platform, gitHost: 'bitbucket', namespace: null }))).toEqual([
        expect.objectContaining({ field: 'namespace', value: null }),
        expect.objectContaining({ field: 'gitHost', value: 'bitbucket' }),
      ]);
    });

    test('fails when the webhook clients Secret is another, lacks the account\'s key, or is not a Secret', () => {
      expect(problemsFor((platform: Platform) => ({ platform, webhookClients: SecretRef.fromSecretName('github-webhook', ['github.com']) }))[0]).toMatchObject({ field: 'webhookClients', value: 'github-webhook', message: expect.stringMatching(/reads only "argo-workflows-webhook-clients"/) });
      expect(problemsFor((platform: Platform) => ({ platform, webhookClients: SecretRef.fromSecretName(WEBHOOK_CLIENTS_SECRET, ['github']) }))[0]).toMatchObject({ field: 'webhookClients', message: 'declares no key "github.com" (the webhook client\'s service account)' });
      expect(problemsFor((platform: Platform) => ({ platform, webhookClients: WEBHOOK_CLIENTS_SECRET }))[0]).toMatchObject({ field: 'webhookClients', value: 'a string' });
    });

    test('fails when the namespace is argo-server\'s or the pipelines\', the template name is too long, or the repository is not a path', () => {
      const problems = problemsFor((platform: Platform) => ({ platform, namespace: 'argo', templateName: 'a-delivery-template-with-a-name-far-too-long-for-runs', repository: 'https://github.com/acme/model' }));
      expect(problems.map((p) => p.field)).toEqual(['namespace', 'templateName', 'repository']);
      expect(problems[1].message).toMatch(/longer than 42 characters/);
      expect(problemsFor((platform: Platform) => ({ platform, namespace: 'ml-pipelines' }))[0].message).toMatch(/pipelines' namespace/);
    });

    test('fails when webhookFrom holds something other than NetworkPeers', () => {
      expect(problemsFor((platform: Platform) => ({ platform, webhookFrom: ['0.0.0.0/0'] }))[0]).toMatchObject({ field: 'webhookFrom[0]', message: 'is not a NetworkPeer' });
    });
  });

  test('what it renders is an ApiObject per binding, for escape hatches', () => {
    const { triggers } = build();
    expect(triggers.bindings.every((b) => b instanceof ApiObject && b.kind === 'WorkflowEventBinding')).toBe(true);
  });
});
