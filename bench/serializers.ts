/**
 * One paired run of the serializer comparison, in its own process (a fresh heap and JIT, as a real synth has):
 * synthesizes the sandbox platform plus P pipelines of S steps with our emitter, timing the whole; then serializes
 * the same objects with each serializer in turn (cdk8s's `Yaml.stringify`, the `yaml` package's `stringify` per
 * document, our `toYaml`, and `JSON.stringify` as the floor), in an order rotated by the run's index; then checks
 * that every output reads back as the objects, on a sample of documents. Prints one JSON line.
 *
 * Usage: node --expose-gc serializers.js P S RUN
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { isDeepStrictEqual } from 'util';
import { Yaml } from 'cdk8s';
import { parseAllDocuments, stringify } from 'yaml';
import { toYaml } from '../lib/yaml';
import { buildBenchApp } from './build';

/** The serializers compared, by the name the report prints; each writes a whole stream of documents. */
export const SERIALIZERS = {
  'cdk8s Yaml.stringify': (objects: readonly unknown[]): string => Yaml.stringify(...objects),
  'yaml stringify': (objects: readonly unknown[]): string => objects.map((o) => stringify(o)).join('---\n'),
  'cd4ml toYaml': (objects: readonly unknown[]): string => toYaml(objects),
  'JSON.stringify': (objects: readonly unknown[]): string => objects.map((o) => JSON.stringify(o)).join('\n'),
} as const;

/** A serializer's name. */
export type SerializerName = keyof typeof SERIALIZERS;

/** What one run prints. */
export interface SerializerRun {
  /** The run's index (which rotates the serializers' order). */
  readonly run: number;
  /** Documents serialized. */
  readonly objects: number;
  /** Building, validating, rendering (toJson), serializing with toYaml and writing the files, in milliseconds. */
  readonly synthMs: number;
  /** Each serializer's time for all the documents, in milliseconds. */
  readonly serializeMs: Record<SerializerName, number>;
  /** Each serializer's output size, in bytes. */
  readonly bytes: Record<SerializerName, number>;
  /** Documents read back from each output and compared with the objects. */
  readonly checkedDocuments: number;
}

/** How many documents of each output are read back: reading all 30 MB with the `yaml` package would take a minute. */
const SAMPLE = 40;

// The garbage of one serializer (cdk8s's is gigabytes) must not be collected on another's time.
const collectGarbage: () => void = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function timed<T>(f: () => T): { ms: number; value: T } {
  collectGarbage();
  const start = process.hrtime.bigint();
  const value = f();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** What `cdk8s synth` does (build, validate, render, write one file per chart), with toYaml writing the YAML. */
function synthesize(pipelines: number, steps: number, outdir: string): unknown[] {
  const { app, charts } = buildBenchApp(pipelines, steps, outdir);
  const errors = app.node.findAll().flatMap((c) => c.node.validate());
  if (errors.length > 0) throw new Error(`Validation failed:\n${errors.join('\n')}`);
  const objects: unknown[] = [];
  charts.forEach((chart, i) => {
    const rendered = chart.toJson();
    writeFileSync(join(outdir, `${String(i).padStart(4, '0')}-${chart.node.id}.k8s.yaml`), toYaml(rendered));
    objects.push(...rendered);
  });
  return objects;
}

/** The documents of a stream, split where every serializer here separates them (a `---` line); JSON's are lines. */
function splitDocuments(name: SerializerName, text: string): string[] {
  if (name === 'JSON.stringify') return text.split('\n');
  return text.split(/\n---\n/).map((doc, i, all) => (i < all.length - 1 ? `${doc}\n` : doc));
}

/** Reads one document back, as YAML 1.2, and as YAML 1.1 too for toYaml (which promises both). */
function readBack(name: SerializerName, doc: string): unknown[] {
  if (name === 'JSON.stringify') return [JSON.parse(doc)];
  const versions: Array<'1.1' | '1.2'> = name === 'cd4ml toYaml' ? ['1.2', '1.1'] : ['1.2'];
  return versions.map((version) => {
    const docs = parseAllDocuments(doc, { version });
    if (docs.length !== 1 || docs[0].errors.length > 0) throw new Error(`${name}: a document does not read back as one YAML ${version} document`);
    return docs[0].toJS();
  });
}

/** Checks that every output holds the objects: as many documents, and a sample of them read back equal. */
function checkOutputs(objects: readonly unknown[], outputs: ReadonlyMap<SerializerName, string>): number {
  const sample = Array.from({ length: SAMPLE }, (_, k) => Math.floor((k * (objects.length - 1)) / (SAMPLE - 1)));
  for (const [name, text] of outputs) {
    const docs = splitDocuments(name, text);
    if (docs.length !== objects.length) throw new Error(`${name} wrote ${docs.length} documents for ${objects.length} objects`);
    for (const i of sample) {
      // what the objects mean as data: no undefined keys, plain objects (as every reader gives back)
      const expected: unknown = JSON.parse(JSON.stringify(objects[i]));
      for (const read of readBack(name, docs[i])) {
        if (!isDeepStrictEqual(read, expected)) throw new Error(`${name}: document ${i} reads back as something else`);
      }
    }
  }
  return sample.length;
}

function main(): void {
  const [pipelines, steps, run] = process.argv.slice(2).map(Number);
  const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-bench-serializers-'));
  const synth = timed(() => synthesize(pipelines, steps, outdir));
  rmSync(outdir, { recursive: true, force: true });
  const objects = synth.value;

  const names = Object.keys(SERIALIZERS) as SerializerName[];
  const order = names.map((_, k) => names[(k + run) % names.length]);
  const outputs = new Map<SerializerName, string>();
  const serializeMs = {} as Record<SerializerName, number>;
  for (const name of order) {
    const { ms, value } = timed(() => SERIALIZERS[name](objects));
    serializeMs[name] = ms;
    outputs.set(name, value);
  }
  const bytes = {} as Record<SerializerName, number>;
  for (const name of names) bytes[name] = Buffer.byteLength(outputs.get(name) as string);
  const checkedDocuments = checkOutputs(objects, outputs);

  const result: SerializerRun = { run, objects: objects.length, synthMs: synth.ms, serializeMs, bytes, checkedDocuments };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) main();
