import { analyzeGraph, describeGraphProblem } from '../../lib';

const graph = (deps: Record<string, string[]>) => analyzeGraph(Object.keys(deps), new Map(Object.entries(deps)));

describe('analyzeGraph', () => {
  test('orders the seed pipeline: prepare_data -> train_model -> deploy_model', () => {
    const g = graph({ deploy: ['train'], prepare: [], train: ['prepare'] });
    expect(g.problems).toEqual([]);
    expect(g.order).toEqual(['prepare', 'train', 'deploy']);
  });

  test('among steps that are ready, runs the earliest declared first (a deterministic order)', () => {
    const g = graph({ a: [], b: [], join: ['b', 'a'], c: [] });
    expect(g.order).toEqual(['a', 'b', 'join', 'c']);
  });

  test('puts every node after all of its dependencies in a diamond', () => {
    const g = graph({ top: [], left: ['top'], right: ['top'], bottom: ['left', 'right'] });
    expect(g.order).toEqual(['top', 'left', 'right', 'bottom']);
  });

  test('reports a cycle with the steps on it, in execution order', () => {
    const g = graph({ prepare: [], train: ['prepare', 'evaluate'], evaluate: ['train'], deploy: ['evaluate'] });
    expect(g.problems).toEqual([{ kind: 'cycle', cycle: ['train', 'evaluate', 'train'] }]);
    expect(describeGraphProblem(g.problems[0])).toBe('the steps form a cycle: train -> evaluate -> train');
    expect(g.order).toEqual(['prepare']);
  });

  test('reports a longer cycle and a separate second one', () => {
    const g = graph({ a: ['c'], b: ['a'], c: ['b'], x: ['y'], y: ['x'] });
    const cycles = g.problems.map((p) => (p.kind === 'cycle' ? p.cycle : []));
    expect(cycles).toHaveLength(2);
    expect(cycles[0]).toHaveLength(4);
    expect(new Set(cycles[0])).toEqual(new Set(['a', 'b', 'c']));
    expect(new Set(cycles[1])).toEqual(new Set(['x', 'y']));
  });

  test('reports unknown and self dependencies, and an empty graph', () => {
    expect(graph({ a: ['ghost', 'a'] }).problems).toEqual([{ kind: 'unknown-dependency', node: 'a', dependency: 'ghost' }, { kind: 'self-dependency', node: 'a' }]);
    expect(graph({}).problems).toEqual([{ kind: 'empty' }]);
  });

  test('orders 10,000 chained nodes', () => {
    const n = 10000;
    const deps: Record<string, string[]> = {};
    for (let i = n - 1; i >= 0; i--) deps[`s${i}`] = i === 0 ? [] : [`s${i - 1}`];
    const g = graph(deps);
    expect(g.problems).toEqual([]);
    expect(g.order[0]).toBe('s0');
    expect(g.order[n - 1]).toBe(`s${n - 1}`);
  });
});
