import { createHash } from 'crypto';
import { existsSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { yamlFilesUnder } from './validate/directory';

/** What the delivery's render step asks for: which pipeline, for which commit, with which built image. */
export interface VersionedTemplateRequest {
  /** The synthesized pipelines of the environment (`dist/<env>/pipelines`). */
  readonly dir: string;
  /** The pipeline's WorkflowTemplate name. */
  readonly pipeline: string;
  /** The commit, 40 (or 64) hex characters. */
  readonly revision: string;
  /** The ref pushed (recorded as an annotation). @default '' */
  readonly ref?: string;
  /** The built image, by digest: `<repository>@sha256:<64 hex>`. */
  readonly image: string;
  /** Images (any tag or digest) whose steps run the built image instead: their repositories. */
  readonly replace: readonly string[];
  /** The environment's pipeline namespace the version is registered in. */
  readonly namespace: string;
}

/** Longest pipeline name: its versions are `<pipeline>-<12 hex of the commit>`, a DNS label. */
export const MAX_DELIVERED_PIPELINE_NAME = 63 - 13;

type Obj = Record<string, unknown>;

/** An image reference without its tag or digest (`registry:5000/team/app:1.0@sha256:...` -> `registry:5000/team/app`). */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * The pipeline's WorkflowTemplate for one commit, as the delivery registers it: named `<pipeline>-<commit[0:12]>`, in the
 * environment's namespace, labelled with the commit (`cd4ml.io/revision`) and the pipeline, annotated with the ref and
 * the image, and every step whose image is one of `replace`'s repositories running the built image by digest. Throws
 * an Error that says what to fix when the pipeline is not in `dir`, the values are malformed, or no step would run the
 * built image.
 */
export function versionedTemplate(req: VersionedTemplateRequest): Obj {
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(req.revision)) throw new Error(`--revision ${JSON.stringify(req.revision)} is not a full commit name. Fix: give the 40 hex characters of the commit`);
  if (!/^[^@\s]+@sha256:[0-9a-f]{64}$/.test(req.image)) throw new Error(`--image ${JSON.stringify(req.image)} is not an image by digest. Fix: give <repository>@sha256:<64 hex characters>, as the build step wrote it`);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(req.namespace)) throw new Error(`--namespace ${JSON.stringify(req.namespace)} is not a namespace name. Fix: give the environment's pipeline namespace, e.g. ml-pipelines`);
  if (!existsSync(req.dir) || !statSync(req.dir).isDirectory()) throw new Error(`${req.dir} is not a directory. Fix: synthesize the environment first (npm run synth), or give --dir <output>/<environment>/pipelines`);
  const found: Obj[] = [];
  for (const file of yamlFilesUnder(req.dir)) {
    for (const doc of parseAllDocuments(readFileSync(join(req.dir, file), 'utf8'))) {
      const o = doc.toJSON() as Obj | null;
      const meta = o?.metadata as Obj | undefined;
      if (o?.kind === 'WorkflowTemplate' && meta?.name === req.pipeline) found.push(o);
    }
  }
  if (found.length === 0) throw new Error(`no WorkflowTemplate "${req.pipeline}" in ${req.dir}. Fix: name the pipeline the environment's output holds (cd4ml graph ${req.dir} lists them)`);
  // The template synthesized for the environment's namespace: it names that runner's Secrets, cache and controller
  // instance ID. (A platform with pipeline domains holds one per domain, each in its own namespace.)
  const namespaceOf = (o: Obj) => String((o.metadata as Obj).namespace ?? '');
  const inNamespace = found.filter((o) => namespaceOf(o) === req.namespace);
  if (inNamespace.length === 0) throw new Error(`no WorkflowTemplate "${req.pipeline}" in namespace ${req.namespace} in ${req.dir} (there is one in ${[...new Set(found.map(namespaceOf))].join(', ')}). Fix: declare the pipeline on the environment's runner too, so its template names that namespace's Secrets and controller`);
  if (inNamespace.length > 1) throw new Error(`${inNamespace.length} WorkflowTemplates named "${req.pipeline}" in namespace ${req.namespace} in ${req.dir}. Fix: synthesize into a clean directory`);
  if (req.pipeline.length > MAX_DELIVERED_PIPELINE_NAME) throw new Error(`pipeline name "${req.pipeline}" is longer than ${MAX_DELIVERED_PIPELINE_NAME} characters. Fix: shorten it (versions are named <pipeline>-<commit>)`);
  const template = JSON.parse(JSON.stringify(inNamespace[0])) as Obj;
  const meta = template.metadata as Obj;
  const name = `${req.pipeline}-${req.revision.slice(0, 12)}`;
  const labels = { ...((meta.labels as Record<string, string>) ?? {}), 'cd4ml.io/pipeline': req.pipeline, 'cd4ml.io/revision': req.revision.slice(0, 63) };
  const annotations = { ...((meta.annotations as Record<string, string>) ?? {}), 'cd4ml.io/image': req.image, 'cd4ml.io/ref': req.ref ?? '', 'cd4ml.io/revision': req.revision };
  template.metadata = { name, namespace: req.namespace, labels, annotations };

  const repositories = new Set(req.replace.map(imageRepository));
  let replaced = 0;
  const images = new Set<string>();
  const hash = (image: string) => createHash('sha256').update(image).digest('hex').slice(0, 12);
  const rekeyed = new Map<string, string>();
  const pin = (c: Obj | undefined) => {
    if (!c || typeof c.image !== 'string') return;
    images.add(c.image);
    if (repositories.has(imageRepository(c.image))) {
      rekeyed.set(`-${hash(c.image)}`, `-${hash(req.image)}`);
      c.image = req.image;
      replaced++;
    }
  };
  const spec = template.spec as Obj;
  for (const t of (spec.templates as Obj[] | undefined) ?? []) {
    pin(t.container as Obj | undefined);
    pin(t.script as Obj | undefined);
    for (const c of [...((t.initContainers as Obj[] | undefined) ?? []), ...((t.sidecars as Obj[] | undefined) ?? [])]) pin(c);
    for (const c of (t.containerSet as Obj | undefined)?.containers as Obj[] | undefined ?? []) pin(c);
  }
  if (replaced === 0) {
    throw new Error(`no step of "${req.pipeline}" runs ${[...repositories].join(' or ')} (its steps run ${[...images].join(', ') || 'no image'}), so the built image would never run. Fix: build the image the steps use, or give --replace <the steps' image>`);
  }
  // A cached step's key starts with `<step>-v<version>-<12 hex of its image>` (Pipeline.cacheKey), computed at synth from
  // the image it was given: the key of a step that now runs the build names the build, so a new build never reuses the
  // outputs an older one cached.
  for (const t of (spec.templates as Obj[] | undefined) ?? []) {
    const calls = [...(((t.dag as Obj | undefined)?.tasks as Obj[] | undefined) ?? []), ...(((t.steps as Obj[][] | undefined) ?? []).flat())];
    for (const call of calls) {
      for (const param of ((call.arguments as Obj | undefined)?.parameters as Obj[] | undefined) ?? []) {
        if (param.name !== 'cache-key' || typeof param.value !== 'string') continue;
        for (const [from, to] of rekeyed) param.value = (param.value as string).split(from).join(to);
      }
    }
  }
  return template;
}
