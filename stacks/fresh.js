'use strict';
// Runs a program of this repository from build/ after bringing build/ up to date with the sources, so what runs is
// never an earlier build: `npm run synth` (stacks/synth.ts) and Pulumi.yaml's program (stacks/pulumi-main.ts).
//
// A changed TypeScript file is transpiled alone (typescript's transpileModule, the compiler options of
// tsconfig.json), without type-checking the project: that is `npm run build`'s and `npm test`'s job, and it costs
// seconds where users wait for a synth. Sources are matched by modification time; a compiled file whose source is
// gone is deleted, so a removed module cannot keep answering. Plain JavaScript, so it runs before anything is built.
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const BUILD = path.join(ROOT, 'build');
const SOURCE_DIRS = ['lib', 'constructs', 'pulumi', 'stacks'];

/** Every source under the repository's program folders: TypeScript (not declarations) and the Python scripts. */
function sources() {
  const out = [path.join(ROOT, 'index.ts')];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if ((e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) || (e.name.endsWith('.py') && dir.startsWith(path.join(ROOT, 'constructs')))) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(ROOT, d));
  return out;
}

/** Where a source's compiled (or copied) file goes. */
function target(source) {
  const rel = path.relative(ROOT, source);
  return path.join(BUILD, rel.endsWith('.ts') ? rel.replace(/\.ts$/, '.js') : rel);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** Writes a file whole: a concurrent run (two `pulumi up`) never reads it half-written. */
function writeWhole(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/** Brings build/ up to date; returns the number of files compiled or copied. */
function refresh() {
  const all = sources();
  // compiler options changed since the last run: everything is compiled again
  const stamp = path.join(BUILD, '.fresh-tsconfig');
  const optionsChanged = mtime(stamp) < mtime(path.join(ROOT, 'tsconfig.json'));
  const stale = all.filter((s) => optionsChanged || mtime(target(s)) < mtime(s));
  let ts;
  let options;
  for (const s of stale) {
    const out = target(s);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    if (s.endsWith('.py')) {
      writeWhole(out, fs.readFileSync(s));
      continue;
    }
    if (!ts) {
      ts = require('typescript');
      const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
      options = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, ROOT).options;
      options.declaration = false;
    }
    const result = ts.transpileModule(fs.readFileSync(s, 'utf8'), { compilerOptions: options, fileName: s, reportDiagnostics: true });
    const errors = (result.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
      throw new Error(`${path.relative(ROOT, s)}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
    }
    writeWhole(out, result.outputText);
  }
  if (optionsChanged) {
    fs.mkdirSync(BUILD, { recursive: true });
    fs.writeFileSync(stamp, '');
  }
  // compiled files whose source is gone (a deleted or renamed module), and their declarations, which `npm pack`
  // would otherwise ship
  const wanted = new Set([...all.map(target), ...all.filter((s) => s.endsWith('.ts')).map((s) => target(s).replace(/\.js$/, '.d.ts'))]);
  const prune = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) prune(p);
      else if ((e.name.endsWith('.js') || e.name.endsWith('.d.ts') || e.name.endsWith('.py')) && !wanted.has(p)) fs.rmSync(p, { force: true });
    }
  };
  for (const d of SOURCE_DIRS) prune(path.join(BUILD, d));
  return stale.length;
}

/** Refreshes build/ and loads a program by its source path without extension (e.g. 'stacks/synth'). */
function load(program) {
  refresh();
  return require(path.join(BUILD, program));
}

module.exports = { refresh, load };

// `node stacks/fresh.js stacks/synth [args...]`: refresh, then run the program as the main module would.
if (require.main === module) {
  const [program, ...args] = process.argv.slice(2);
  try {
    const compiled = refresh();
    if (process.env.CD4ML_FRESH_VERBOSE) process.stderr.write(`cd4ml: ${compiled} file(s) compiled\n`);
  } catch (e) {
    process.stderr.write(`cd4ml: cannot compile: ${e.message}\n`);
    process.exit(1);
  }
  const mod = require(path.join(BUILD, program));
  if (typeof mod.main === 'function') mod.main(args);
}
