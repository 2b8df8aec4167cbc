import { execFileSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// stacks/fresh.js brings build/ up to date before `npm run synth` and Pulumi's program run: a copy of it in a small
// project of its own shows that an edit is compiled, a removed module's output is deleted, and a type error in the
// syntax sense stops the run.
const ROOT = join(__dirname, '..', '..');

describe('the launcher that runs the sources as they are (stacks/fresh.js)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cd4ml-fresh-'));
    for (const d of ['stacks', 'lib', 'constructs', 'pulumi', 'node_modules']) mkdirSync(join(dir, d));
    copyFileSync(join(ROOT, 'stacks', 'fresh.js'), join(dir, 'stacks', 'fresh.js'));
    copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    symlinkSync(join(ROOT, 'node_modules', 'typescript'), join(dir, 'node_modules', 'typescript'));
    writeFileSync(join(dir, 'index.ts'), "export * from './lib/greeting';\n");
    writeFileSync(join(dir, 'lib', 'greeting.ts'), "export const greeting: string = 'one';\n");
    writeFileSync(join(dir, 'stacks', 'main.ts'), "import { greeting } from '../index';\nexport function main(args: string[]): void { console.log(`${greeting} ${args.join(' ')}`); }\n");
    writeFileSync(join(dir, 'constructs', 'script.py'), "print('v1')\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync(process.execPath, [join(dir, 'stacks', 'fresh.js'), 'stacks/main', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CD4ML_FRESH_VERBOSE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });

  test('compiles what changed, and only that, before it runs; deletes what lost its source', () => {
    expect(run('a').trim()).toBe('one a');
    expect(readFileSync(join(dir, 'build', 'constructs', 'script.py'), 'utf8')).toBe("print('v1')\n");
    // an edit (a later modification time) is what runs next
    writeFileSync(join(dir, 'lib', 'greeting.ts'), "export const greeting: string = 'two';\n");
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'lib', 'greeting.ts'), later, later);
    expect(run('b').trim()).toBe('two b');
    // a removed module's compiled file is deleted: nothing can keep importing it
    writeFileSync(join(dir, 'lib', 'old.ts'), 'export const old = 1;\n');
    run();
    expect(existsSync(join(dir, 'build', 'lib', 'old.js'))).toBe(true);
    rmSync(join(dir, 'lib', 'old.ts'));
    run();
    expect(existsSync(join(dir, 'build', 'lib', 'old.js'))).toBe(false);
  });

  test('a source that does not parse stops the run with the file named', () => {
    writeFileSync(join(dir, 'lib', 'greeting.ts'), "export const greeting: string = 'unterminated;\n");
    let failure: { status: number; stderr: string } | undefined;
    try {
      run();
    } catch (e) {
      failure = e as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(1);
    expect(String(failure?.stderr)).toMatch(/cd4ml: cannot compile: lib\/greeting.ts: Unterminated string literal/);
  });
});
