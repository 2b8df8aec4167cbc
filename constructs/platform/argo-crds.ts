import { sharedObject as markShared } from '../k8s/output-checks';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { KEEP_ON_PRUNE, PART_OF } from '../k8s/labels';

/** One Argo Workflows custom resource kind. */
interface ArgoKind {
  readonly kind: string;
  readonly plural: string;
  readonly shortNames: string[];
  readonly scope: 'Namespaced' | 'Cluster';
  /** Whether the kind has a `status` field (and, for some, a status subresource). */
  readonly status: 'none' | 'field' | 'subresource';
}

/**
 * The eight kinds Argo Workflows v4 serves (`manifests/base/crds/minimal/` upstream): group argoproj.io,
 * version v1alpha1.
 */
export const ARGO_KINDS: readonly ArgoKind[] = [
  { kind: 'ClusterWorkflowTemplate', plural: 'clusterworkflowtemplates', shortNames: ['clusterwftmpl', 'cwft'], scope: 'Cluster', status: 'none' },
  { kind: 'CronWorkflow', plural: 'cronworkflows', shortNames: ['cwf', 'cronwf'], scope: 'Namespaced', status: 'field' },
  { kind: 'Workflow', plural: 'workflows', shortNames: ['wf'], scope: 'Namespaced', status: 'field' },
  { kind: 'WorkflowArtifactGCTask', plural: 'workflowartifactgctasks', shortNames: ['wfat'], scope: 'Namespaced', status: 'subresource' },
  { kind: 'WorkflowEventBinding', plural: 'workfloweventbindings', shortNames: ['wfeb'], scope: 'Namespaced', status: 'none' },
  { kind: 'WorkflowTaskResult', plural: 'workflowtaskresults', shortNames: [], scope: 'Namespaced', status: 'none' },
  { kind: 'WorkflowTaskSet', plural: 'workflowtasksets', shortNames: ['wfts'], scope: 'Namespaced', status: 'subresource' },
  { kind: 'WorkflowTemplate', plural: 'workflowtemplates', shortNames: ['wftmpl'], scope: 'Namespaced', status: 'none' },
];

/** The API group of every Argo Workflows kind. */
export const ARGO_GROUP = 'argoproj.io';
/** The apiVersion of every Argo Workflows object. */
export const ARGO_API_VERSION = `${ARGO_GROUP}/v1alpha1`;

const OPEN_OBJECT: k8s.JsonSchemaProps = { type: 'object', xKubernetesPreserveUnknownFields: true, xKubernetesMapType: 'atomic' };

/**
 * The Argo Workflows CustomResourceDefinitions in their minimal form: `spec` and `status` are open objects,
 * as upstream's minimal CRDs. The full CRDs exceed the 262 KiB annotation limit of client-side
 * `kubectl apply`; the minimal ones apply either way, and the controller validates what it runs.
 */
export class ArgoCrds extends Construct {
  /** The CRD objects, for dependencies: every Argo object must come after them. */
  public readonly resources: readonly ApiObject[];

  public constructor(scope: Construct, id: string) {
    super(scope, id);
    this.resources = ARGO_KINDS.map(
      (k) =>
        shareCrd(new k8s.KubeCustomResourceDefinition(this, k.kind, {
          metadata: { name: `${k.plural}.${ARGO_GROUP}`, annotations: { ...KEEP_ON_PRUNE }, labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/name': 'argo-workflows' } },
          spec: {
            group: ARGO_GROUP,
            names: {
              kind: k.kind,
              listKind: `${k.kind}List`,
              plural: k.plural,
              singular: k.kind.toLowerCase(),
              shortNames: k.shortNames.length > 0 ? k.shortNames : undefined,
            },
            scope: k.scope,
            versions: [
              {
                name: 'v1alpha1',
                served: true,
                storage: true,
                schema: {
                  openApiv3Schema: {
                    type: 'object',
                    required: k.kind === 'WorkflowTaskResult' ? ['metadata'] : ['metadata', 'spec'],
                    properties: {
                      apiVersion: { type: 'string' },
                      kind: { type: 'string' },
                      metadata: { type: 'object' },
                      ...(k.kind === 'WorkflowTaskResult' ? {} : { spec: OPEN_OBJECT }),
                      ...(k.status === 'none' ? {} : { status: OPEN_OBJECT }),
                    },
                    // WorkflowTaskResult keeps its fields at the top level (message, outputs, phase, progress).
                    xKubernetesPreserveUnknownFields: k.kind === 'WorkflowTaskResult' ? true : undefined,
                  },
                },
                subresources: k.status === 'subresource' ? { status: {} } : undefined,
              },
            ],
          },
        })),
    );
  }
}

/** A CRD is cluster-wide and cannot be renamed: a second platform in the app is told to leave its own out. */
function shareCrd<T extends ApiObject>(crd: T): T {
  markShared(crd, 'render the Argo CRDs once per cluster: set argoCrds: false on every Platform but one (the others use the same CRDs)');
  return crd;
}
