/** A problem with the shape of a graph, found by {@link analyzeGraph}. */
export type GraphProblem =
  | { readonly kind: 'empty' }
  | { readonly kind: 'unknown-dependency'; readonly node: string; readonly dependency: string }
  | { readonly kind: 'self-dependency'; readonly node: string }
  | { readonly kind: 'cycle'; readonly cycle: readonly string[] };

/** The result of {@link analyzeGraph}: a topological order when the graph is a DAG, and every problem found. */
export interface GraphAnalysis {
  /** Nodes, each after all of its dependencies; ties keep declaration order. Complete only when `problems` is empty. */
  readonly order: readonly string[];
  /** Problems; empty for a valid DAG. */
  readonly problems: readonly GraphProblem[];
}

/**
 * Orders a dependency graph topologically (Kahn's algorithm, stable in declaration order) and reports every
 * problem: an empty graph, dependencies on unknown nodes, self-dependencies and cycles (each cycle as the
 * list of nodes on it, first node repeated at the end: `a -> b -> a`).
 *
 * @param nodes node names in declaration order
 * @param dependencies for each node, the nodes it depends on
 */
export function analyzeGraph(nodes: readonly string[], dependencies: ReadonlyMap<string, readonly string[]>): GraphAnalysis {
  const problems: GraphProblem[] = [];
  if (nodes.length === 0) return { order: [], problems: [{ kind: 'empty' }] };
  const known = new Set(nodes);
  const deps = new Map<string, string[]>();
  for (const n of nodes) {
    const valid: string[] = [];
    for (const d of dependencies.get(n) ?? []) {
      if (d === n) problems.push({ kind: 'self-dependency', node: n });
      else if (!known.has(d)) problems.push({ kind: 'unknown-dependency', node: n, dependency: d });
      else if (!valid.includes(d)) valid.push(d);
    }
    deps.set(n, valid);
  }

  const indegree = new Map(nodes.map((n) => [n, deps.get(n)!.length]));
  const dependents = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const n of nodes) for (const d of deps.get(n)!) dependents.get(d)!.push(n);
  const position = new Map(nodes.map((n, i) => [n, i]));
  const ready = nodes.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const m of dependents.get(n)!) {
      indegree.set(m, indegree.get(m)! - 1);
      if (indegree.get(m) === 0) insertSorted(ready, m, position);
    }
  }
  if (order.length < nodes.length) {
    const remaining = new Set(nodes.filter((n) => !order.includes(n)));
    for (const cycle of findCycles(nodes.filter((n) => remaining.has(n)), deps, remaining)) problems.push({ kind: 'cycle', cycle: startAtFirst(cycle, position) });
  }
  return { order, problems };
}

/** Rotates a cycle (`a -> b -> a`) to start at its earliest-declared node, for stable messages. */
function startAtFirst(cycle: readonly string[], position: ReadonlyMap<string, number>): string[] {
  const ring = cycle.slice(0, -1);
  const first = ring.reduce((best, n, i) => (position.get(n)! < position.get(ring[best])! ? i : best), 0);
  const rotated = [...ring.slice(first), ...ring.slice(0, first)];
  return [...rotated, rotated[0]];
}

/** Keeps `ready` in declaration order so the result is deterministic. */
function insertSorted(ready: string[], n: string, position: ReadonlyMap<string, number>): void {
  const at = ready.findIndex((r) => position.get(r)! > position.get(n)!);
  if (at === -1) ready.push(n);
  else ready.splice(at, 0, n);
}

/** Finds distinct cycles among the nodes left over by Kahn's algorithm (depth-first, each node reported once). */
function findCycles(candidates: readonly string[], deps: ReadonlyMap<string, readonly string[]>, remaining: ReadonlySet<string>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  for (const start of candidates) {
    if (done.has(start)) continue;
    const stack: string[] = [];
    const onStack = new Set<string>();
    const visit = (n: string): boolean => {
      stack.push(n);
      onStack.add(n);
      for (const d of deps.get(n) ?? []) {
        if (!remaining.has(d) || done.has(d)) continue;
        if (onStack.has(d)) {
          // d depends (transitively) on n and n on d: report in execution order, first node repeated.
          const cycle = stack.slice(stack.indexOf(d)).reverse();
          cycles.push([...cycle, cycle[0]]);
          return true;
        }
        if (visit(d)) return true;
      }
      stack.pop();
      onStack.delete(n);
      return false;
    };
    visit(start);
    for (const n of stack) done.add(n);
    done.add(start);
  }
  return cycles;
}

/** Renders a graph problem as a sentence (for error messages). */
export function describeGraphProblem(p: GraphProblem): string {
  switch (p.kind) {
    case 'empty': return 'the pipeline has no steps';
    case 'unknown-dependency': return `step "${p.node}" depends on "${p.dependency}", which is not a step of this pipeline`;
    case 'self-dependency': return `step "${p.node}" depends on itself`;
    case 'cycle': return `the steps form a cycle: ${p.cycle.join(' -> ')}`;
  }
}
