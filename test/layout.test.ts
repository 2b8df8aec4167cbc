import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, relative } from 'path';

// The tree tells the architecture (README, "Layout"): these tests hold it to what the README says.
const ROOT = join(__dirname, '..');

/** Each layer and the layers its files may import (besides its own). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'lib': [],
  'constructs/k8s': ['lib'],
  'constructs/platform': ['lib', 'constructs/k8s'],
  'constructs/pipelines': ['lib', 'constructs/k8s', 'constructs/platform'],
  // what serves a model, starts a delivery and delivers a pipeline, above the pipelines
  'constructs/delivery': ['lib', 'constructs/k8s', 'constructs/platform', 'constructs/pipelines'],
  // an environment as a whole: its platform and pipelines built for both engines, and its GitOps output
  'constructs/app': ['lib', 'constructs/k8s', 'constructs/platform', 'constructs/pipelines'],
  // The package's public faces: they re-export what is below them.
  'constructs': ['constructs/k8s', 'constructs/platform', 'constructs/pipelines', 'constructs/delivery', 'constructs/app'],
  '.': ['lib', 'constructs'],
  'pulumi': ['.', 'lib', 'constructs'],
  'stacks': ['.', 'lib', 'constructs', 'pulumi'],
};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const rel = join(dir, f);
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The files this repository's TypeScript imports, by file (relative imports only), `import type` included. */
function importGraph(): Map<string, string[]> {
  const files = ['index.ts', ...['lib', 'constructs', 'pulumi', 'stacks'].flatMap(sources)];
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']*)'/g)].map((m) => {
      const base = join(dirname(file), m[1]);
      const found = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(join(ROOT, c)));
      if (!found) throw new Error(`${file} imports ${m[1]}, which resolves to no file`);
      return found;
    });
    graph.set(file, targets);
  }
  return graph;
}

function layerOf(file: string): string {
  const dir = dirname(file);
  return dir === 'constructs' || dir === '.' ? dir : Object.keys(MAY_IMPORT).filter((l) => l !== '.' && (dir === l || dir.startsWith(`${l}/`)))
    .sort((a, b) => b.length - a.length)[0] ?? dir;
}

describe('the layout', () => {
  const graph = importGraph();

  test('every import points down the layers the README names', () => {
    // given the import graph of the package's own sources
    // when each import is placed in its layer
    const wrong = [...graph].flatMap(([file, targets]) => targets
      .filter((t) => layerOf(t) !== layerOf(file) && !(MAY_IMPORT[layerOf(file)] ?? []).includes(layerOf(t)))
      .map((t) => `${file} -> ${t}`));
    // then none goes up or sideways
    expect(wrong).toEqual([]);
    expect(graph.size).toBeGreaterThan(30);
  });

  test('no two files import each other, directly or in a circle', () => {
    // given the import graph, when it is searched depth first
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') { cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> ')); return; }
      state.set(file, 'open');
      for (const t of graph.get(file) ?? []) visit(t, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    // then it has no cycle
    expect(cycles).toEqual([]);
  });

  test('only pulumi/ and the stack program import @pulumi', () => {
    const importers = [...graph.keys()].filter((f) => /from '@pulumi\//.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(importers.filter((f) => !f.startsWith('pulumi/') && !/^stacks\/pulumi-/.test(f))).toEqual([]);
    expect(importers).toContain('pulumi/component.ts');
  });

  test('index files only re-export', () => {
    const indexes = [...graph.keys()].filter((f) => f.endsWith('index.ts') && f !== 'index.ts' && !f.startsWith('lib/'));
    for (const f of indexes) {
      const code = readFileSync(join(ROOT, f), 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('//') && !l.trim().startsWith('*') && !l.trim().startsWith('/**'));
      expect({ file: f, other: code.filter((l) => !/^export (\*|\{[^}]*\}) from '/.test(l)) }).toEqual({ file: f, other: [] });
    }
    expect(indexes.map((f) => relative(ROOT, join(ROOT, f))).sort()).toEqual(
      ['constructs/app/index.ts', 'constructs/delivery/index.ts', 'constructs/index.ts', 'constructs/k8s/index.ts', 'constructs/pipelines/index.ts', 'constructs/platform/index.ts', 'pulumi/index.ts'],
    );
  });
});
