import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { EnvironmentName } from '../../lib';
import { main as cli } from '../../lib/cli';
import { synthesizeStack } from '../../stacks/app';

// Every TypeScript block in the README and in docs/ is a program a reader pastes: each one compiles (strict) against
// the package as a consumer imports it (`from 'cd4ml'`), runs, and synthesizes. The Mermaid picture of the pipeline
// is what `cd4ml graph` draws from that block's own output.

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

interface Block { file: string; line: number; lang: string; code: string }

function blocks(file: string): Block[] {
  const out: Block[] = [];
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(indent));
    out.push({ file, line: start + 1, lang: open[2], code: body.join('\n') });
  }
  return out;
}

const all = DOCS.flatMap(blocks);
const ts = all.filter((b) => b.lang === 'ts' || b.lang === 'typescript');

describe('the TypeScript blocks of the README and docs/', () => {
  let dir = '';
  const ran = new Map<Block, { status: number | null; stdout: string; stderr: string; cwd: string }>();

  beforeAll(() => {
    // a consumer project: `cd4ml` is this package (built), its peers are ours
    dir = mkdtempSync(join(tmpdir(), 'cd4ml-doc-blocks-'));
    const modules = join(dir, 'node_modules');
    mkdirSync(modules);
    symlinkSync(ROOT, join(modules, 'cd4ml'));
    for (const peer of ['cdk8s', 'cdk8s-plus-27', 'constructs', '@types', '@pulumi']) symlinkSync(join(ROOT, 'node_modules', peer), join(modules, peer));
    const files = ts.map((b, i) => {
      const name = `block${i}.ts`;
      writeFileSync(join(dir, name), `// ${b.file}:${b.line}\n${b.code}\nexport {};\n`);
      return name;
    });
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noUnusedLocals: false, module: 'commonjs', target: 'ES2022', moduleResolution: 'node', types: ['node'], outDir: 'out' }, files }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`the blocks do not compile:\n${tsc.stdout}${tsc.stderr}`);
    // a Pulumi program runs under Pulumi's own mocks; what it registers is written out as the block's output
    writeFileSync(join(dir, 'out', 'pulumi-mocks.js'), [
      "const pulumi = require('@pulumi/pulumi');",
      "const { mkdirSync, writeFileSync } = require('fs');",
      'const registered = [];',
      '// the secrets a program reads from its stack config: stand-ins, as `pulumi config set --secret` would give',
      'const requireSecret = pulumi.Config.prototype.requireSecret;',
      'pulumi.Config.prototype.requireSecret = function (k) { try { return requireSecret.call(this, k); } catch { return pulumi.secret(`docs-${k}`); } };',
      "pulumi.runtime.setMocks({ newResource: (a) => { if (a.type.startsWith('kubernetes:')) registered.push(a.inputs); return { id: `${a.name}-id`, state: a.inputs }; }, call: (a) => a.inputs }, 'docs', 'dev', false)",
      '  .then(() => { require(process.argv[2]); return new Promise((r) => setTimeout(r, 1500)); })',
      "  .then(() => { mkdirSync('dist'); writeFileSync('dist/objects.json', registered.map((o) => JSON.stringify(o)).join('\\n---\\n')); })",
      '  .catch((e) => { console.error(e); process.exit(1); });',
    ].join('\n'));
    ts.forEach((b, i) => {
      const cwd = join(dir, `run${i}`);
      mkdirSync(cwd);
      const script = join(dir, 'out', `block${i}.js`);
      const args = b.code.includes("from 'cd4ml/pulumi'") ? [join(dir, 'out', 'pulumi-mocks.js'), script] : [script];
      const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60000 });
      ran.set(b, { status: r.status, stdout: r.stdout, stderr: r.stderr, cwd });
    });
  }, 120000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  test('there are blocks to check: the library use and the pipeline', () => {
    expect(ts.map((b) => b.file)).toEqual(expect.arrayContaining(['README.md']));
    expect(ts.length).toBeGreaterThanOrEqual(2);
  });

  test.each(ts.map((b) => [`${b.file}:${b.line}`, b] as const))('%s compiles, runs and synthesizes', (_where, b) => {
    const r = ran.get(b)!;
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const dist = join(r.cwd, 'dist');
    // (an app's flat files, or an environment's GitOps folder)
    const files = (readdirSync(dist, { recursive: true }) as string[]).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith('kustomization.yaml'));
    const docs = files.flatMap((f) => parseAllDocuments(readFileSync(join(dist, f), 'utf8')).map((d) => d.toJSON()));
    expect(docs.length).toBeGreaterThan(10);
    // what a block says it prints (`console.log(...); // what`) is what it prints
    const promised = [...b.code.matchAll(/console\.log\(.*\);\s*\/\/ (.+)$/gm)].map((m) => m[1].trim());
    expect(r.stdout.trim().split('\n').filter((l) => l !== '')).toEqual(promised);
  });

  test('the pipeline picture is what `cd4ml graph` draws from the README\'s pipeline block', () => {
    const pipelineBlock = ts.find((b) => b.file === 'README.md' && b.code.includes('new Pipeline('))!;
    const picture = all.find((b) => b.file === 'README.md' && b.lang === 'mermaid')!;
    const out = join(dir, 'graphs');
    expect(cli(['graph', join(ran.get(pipelineBlock)!.cwd, 'dist'), '--out', out], () => undefined)).toBe(0);
    const drawn = readFileSync(join(out, readdirSync(out).find((f) => f.endsWith('.mmd') || f.endsWith('.md'))!), 'utf8');
    expect(drawn).toContain(picture.code.trim());
  });
});

test('the README\'s YAML blocks parse as YAML', () => {
  const yamlBlocks = all.filter((x) => x.lang === 'yaml' || x.lang === 'yml');
  for (const b of yamlBlocks) expect({ at: `${b.file}:${b.line}`, errors: parseAllDocuments(b.code).flatMap((d) => d.errors.map((e) => e.message)) }).toEqual({ at: `${b.file}:${b.line}`, errors: [] });
});

test('the README\'s shell blocks parse as shell', () => {
  for (const b of all.filter((x) => x.lang === 'sh' || x.lang === 'bash')) {
    const r = spawnSync('bash', ['-n'], { input: b.code, encoding: 'utf8' });
    expect({ at: `${b.file}:${b.line}`, status: r.status, stderr: r.stderr }).toEqual({ at: `${b.file}:${b.line}`, status: 0, stderr: '' });
  }
});

describe('the objects the README\'s and docs\' shell blocks name exist in the sandbox output', () => {
  const stack = synthesizeStack(EnvironmentName.SANDBOX);
  const objects = [...stack.platformObjects, ...stack.pipelineObjects] as Array<{ kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown }>;
  const find = (kind: string, ns: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === ns);
  // Secrets the credentials Job generates are declared in its ConfigMap (names, namespaces, keys; never values)
  const generated = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'cd4ml-credentials')
    .flatMap((o) => JSON.parse((o.data as Record<string, string>)['secrets.json']) as Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }>);
  const secretKeys = (ns: string, name: string): string[] | undefined => {
    const g = generated.find((s) => s.name === name && s.namespaces.includes(ns));
    if (g) return Object.keys(g.keys);
    const s = find('Secret', ns, name) as { type?: string } | undefined;
    return s?.type === 'kubernetes.io/service-account-token' ? ['token', 'ca.crt', 'namespace'] : undefined;
  };
  const shell = all.filter((b) => b.lang === 'sh' || b.lang === 'bash').flatMap((b) => b.code.split('\n').map((l, i) => ({ at: `${b.file}:${b.line + 1 + i}`, line: l })));

  test('every `get secret ... {.data.KEY}` names a Secret with that key in that namespace', () => {
    const refs = shell.flatMap(({ at, line }) => [...line.matchAll(/kubectl -n (\S+) get secret (\S+) -o jsonpath='\{\.data\.([\w.-]+)\}'/g)].map((m) => ({ at, ns: m[1], name: m[2], key: m[3] })));
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const r of refs) expect({ ...r, keys: secretKeys(r.ns, r.name)?.includes(r.key) ? 'has it' : secretKeys(r.ns, r.name) }).toEqual({ ...r, keys: 'has it' });
  });

  test('every `port-forward svc/NAME LOCAL:PORT` names a Service with that port in that namespace', () => {
    const refs = shell.flatMap(({ at, line }) => [...line.matchAll(/kubectl -n (\S+)\s+port-forward svc\/(\S+) \d+:(\d+)/g)].map((m) => ({ at, ns: m[1], name: m[2], port: Number(m[3]) })));
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const r of refs) {
      const svc = find('Service', r.ns, r.name) as { spec?: { ports?: Array<{ port: number }> } } | undefined;
      expect({ ...r, found: svc?.spec?.ports?.some((p) => p.port === r.port) ?? false }).toEqual({ ...r, found: true });
    }
  });

  test('every service account, StatefulSet and CronJob a block names exists where it says', () => {
    const refs = shell.flatMap(({ at, line }) => [
      ...[...line.matchAll(/kubectl -n (\S+) create token (\S+)/g)].map((m) => ({ at, kind: 'ServiceAccount', ns: m[1], name: m[2] })),
      ...[...line.matchAll(/kubectl -n (\S+) (?:delete|rollout restart|rollout status) statefulset (\S+)/g)].map((m) => ({ at, kind: 'StatefulSet', ns: m[1], name: m[2] })),
      ...[...line.matchAll(/kubectl -n (\S+) create job \S* ?--from=cronjob\/(\S+)/g)].map((m) => ({ at, kind: 'CronJob', ns: m[1], name: m[2] })),
    ]);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const r of refs) expect({ ...r, found: !!find(r.kind, r.ns, r.name) }).toEqual({ ...r, found: true });
  });
});
