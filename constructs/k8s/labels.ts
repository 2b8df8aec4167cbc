/** The recommended Kubernetes labels, so tooling groups cd4ml's objects. */
export const PART_OF = 'cd4ml';

/** Labels that select a component's pods (stable: they are part of every selector). */
export function selectorLabels(name: string, instance: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': instance };
}

/** Labels put on every object of a component. */
export function componentLabels(name: string, instance: string, component: string): Record<string, string> {
  return {
    ...selectorLabels(name, instance),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': PART_OF,
  };
}
