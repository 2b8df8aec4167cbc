/** The fields of a synthesized object this reads. */
type KubeObject = { readonly kind: string; readonly metadata: { readonly labels?: Record<string, string> }; readonly spec?: unknown };

/**
 * The one field a delivery changes on a model endpoint, `CD4ML_MODEL_VERSION` of its `model` container: `pulumi up`
 * leaves the version the deploy step rolled to (and keeps its own first version on create).
 * @see https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/
 */
export function rolledVersion(o: KubeObject): string[] | undefined {
  if (o.kind !== 'Deployment' || o.metadata.labels?.['app.kubernetes.io/component'] !== 'model-endpoint') return undefined;
  const containers = ((o.spec as { template?: { spec?: { containers?: Array<{ name: string; env?: Array<{ name: string }> }> } } } | undefined)?.template?.spec?.containers) ?? [];
  const c = containers.findIndex((x) => x.name === 'model');
  const e = c < 0 ? -1 : (containers[c].env ?? []).findIndex((x) => x.name === 'CD4ML_MODEL_VERSION');
  return e < 0 ? undefined : [`spec.template.spec.containers[${c}].env[${e}].value`];
}
