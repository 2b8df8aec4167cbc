import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EnvironmentName } from '../../lib';
import { main } from '../../lib/cli';
import { buildApp } from '../../stacks/app';

describe('cd4ml graph', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-graph-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('draws every pipeline of a synthesized stack, exactly as Pipeline.toMermaid() does', () => {
    // given the dev stack (with the GPU sweep) synthesized to disk
    const { app, pipelines } = buildApp(EnvironmentName.DEV, join(dir, 'dist'));
    app.synth();
    const lines: string[] = [];
    // when
    const code = main(['graph', join(dir, 'dist'), '--out', join(dir, 'graphs')], (l) => lines.push(l));
    // then
    expect(code).toBe(0);
    expect(lines).toEqual([`wrote ${join(dir, 'graphs', 'breast-cancer.mmd')}`, `wrote ${join(dir, 'graphs', 'breast-cancer-gpu-sweep.mmd')}`]);
    for (const p of pipelines.pipelines) expect(readFileSync(join(dir, 'graphs', `${p.name}.mmd`), 'utf8')).toBe(p.toMermaid());
    expect(readFileSync(join(dir, 'graphs', 'breast-cancer-gpu-sweep.mmd'), 'utf8')).toContain('train_candidate["train-candidate (1 GPU, fan-out)"]');
  });

  test('fails with the fix when nothing was synthesized, and shows usage for an unknown command', () => {
    const errors: string[] = [];
    expect(main(['graph', join(dir, 'missing')], () => undefined, (l) => errors.push(l))).toBe(1);
    expect(errors[0]).toMatch(/does not exist. Fix: synthesize first/);
    expect(main(['draw'], () => undefined, (l) => errors.push(l))).toBe(2);
    expect(errors[1]).toMatch(/^cd4ml: unknown command "draw". usage: cd4ml graph/);
    expect(main([], () => undefined, (l) => errors.push(l))).toBe(2);
    expect(errors[2]).toMatch(/^usage: cd4ml graph/);
  });

  test('--help, -h and help print the usage on stdout and succeed', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['graph', '--help']]) {
      const out: string[] = [];
      const err: string[] = [];
      expect([argv, main(argv, (l) => out.push(l), (l) => err.push(l)), out.length, err]).toEqual([argv, 0, 1, []]);
      expect(out[0]).toMatch(/^usage: cd4ml graph/);
    }
  });
});
