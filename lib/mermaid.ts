/** One node of a graph to draw. */
export interface MermaidNode {
  /** Node id (a step name). */
  readonly id: string;
  /** Text shown in the node. @default - the id */
  readonly label?: string;
  /** Ids of the nodes it depends on (drawn as arrows into it). */
  readonly dependsOn: readonly string[];
}

/** The label of a pipeline step in a drawing: its name, then what is special about it (`train (1 GPU, fan-out)`). */
export function stepLabel(name: string, traits: { readonly gpus?: number; readonly fanOut?: boolean; readonly cached?: boolean }): string {
  const extras = [traits.gpus ? `${traits.gpus} GPU` : '', traits.fanOut ? 'fan-out' : '', traits.cached ? 'cached' : ''].filter(Boolean);
  return extras.length ? `${name} (${extras.join(', ')})` : name;
}

/** Renders a DAG as a Mermaid flowchart (`flowchart LR`), nodes in the given order. */
export function toMermaidFlowchart(title: string, nodes: readonly MermaidNode[]): string {
  const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
  const text = (s: string) => s.replace(/"/g, '#quot;');
  const lines = ['---', `title: ${text(title)}`, '---', 'flowchart LR'];
  for (const n of nodes) lines.push(`  ${id(n.id)}["${text(n.label ?? n.id)}"]`);
  for (const n of nodes) for (const d of n.dependsOn) lines.push(`  ${id(d)} --> ${id(n.id)}`);
  return lines.join('\n') + '\n';
}
