import { execFileSync } from 'child_process';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { EnvironmentName } from '../../lib';
import { buildApp } from '../../stacks/app';
import { Platform } from '../../constructs';
import { Obj, synth } from '../support/manifests';

// The only contract between the TypeScript pipelines and the Python steps: the flags one passes and the other parses.
const EXAMPLES = join(__dirname, '..', '..', 'examples', 'cd4ml_examples');

/** The keyword names of each module's parse_args(...) call, read with Python's own parser. */
function parsedFlags(): Record<string, string[]> {
  const script = [
    'import ast, json, pathlib, sys',
    'out = {}',
    'for f in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):',
    '    for node in ast.walk(ast.parse(f.read_text())):',
    '        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "parse_args":',
    '            out[f.stem] = sorted(k.arg for k in node.keywords)',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, EXAMPLES], { encoding: 'utf8' }));
}

test('every example step parses exactly the flags its pipeline passes', () => {
  // given both example pipelines (the dev stack has the GPU sweep too)
  const { pipelines } = buildApp(EnvironmentName.DEV, '/tmp/cd4ml-unused');
  const templates = Testing.synth(pipelines).filter((o) => o.kind === 'WorkflowTemplate');
  const flags = parsedFlags();
  let checked = 0;
  for (const wt of templates) {
    for (const t of wt.spec.templates.filter((x: Obj) => x.container)) {
      const module = String(t.container.command[2]).replace('cd4ml_examples.', '');
      const passed = (t.container.args as string[]).filter((a) => a.startsWith('--')).map((a) => a.slice(2)).sort();
      // then
      expect({ step: `${wt.metadata.name}/${t.name}`, flags: passed }).toEqual({ step: `${wt.metadata.name}/${t.name}`, flags: flags[module] });
      checked++;
    }
  }
  expect(checked).toBe(7);
});

test('the example code is valid Python that writes every output the pipelines declare', () => {
  const { pipelines } = buildApp(EnvironmentName.DEV, '/tmp/cd4ml-unused');
  const templates = Testing.synth(pipelines).filter((o) => o.kind === 'WorkflowTemplate');
  for (const wt of templates) {
    for (const t of wt.spec.templates.filter((x: Obj) => x.container)) {
      const module = String(t.container.command[2]).replace('cd4ml_examples.', '');
      const source = require('fs').readFileSync(join(EXAMPLES, `${module}.py`), 'utf8');
      for (const o of t.outputs?.parameters ?? []) expect({ module, writes: source.includes(`write_output("${o.name}"`) }).toEqual({ module, writes: true });
    }
  }
  execFileSync('python3', ['-c', 'import ast,pathlib,sys; [ast.parse(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob("*.py")]', EXAMPLES]);
});

test('once events can submit pipelines, workflows must reference a template (so a trigger token cannot run arbitrary pods)', () => {
  const { platform, pipelines } = buildApp(EnvironmentName.SANDBOX, '/tmp/cd4ml-unused');
  Testing.synth(pipelines);
  const cm = Testing.synth(platform).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'workflow-controller-configmap');
  expect(JSON.parse(cm.data.workflowRestrictions)).toEqual({ templateReferencing: 'Secure' });
  // a platform nobody can send events to leaves hand-written workflows allowed
  const alone = synth((chart) => new Platform(chart, 'platform')).find('ConfigMap', 'workflow-controller-configmap');
  expect(alone.data.workflowRestrictions).toBeUndefined();
});
