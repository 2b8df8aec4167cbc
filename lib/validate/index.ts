/**
 * Validates Kubernetes manifests the way cd4ml's own tests validate what it renders: the official schemas (unknown
 * fields too), every reference resolving inside the output, and the security bar. `cd4ml validate DIR` runs it on a
 * GitOps repository.
 */
import { readManifestDirectory, yamlFilesUnder } from './directory';
import { KubeObject, Obj, objectLabel } from './manifests';
import { danglingReferences, KnownSecret } from './references';
import { formatFinding, formatSummary, SchemaCoverage, StrictCoverage, ValidationCheck, ValidationFinding, ValidationReport } from './report';
import { checkSchemas, Located } from './schemas';
import { securityViolations } from './security';

export type { KnownSecret, SchemaCoverage, StrictCoverage, ValidationCheck, ValidationFinding, ValidationReport };
export { formatFinding, formatSummary, yamlFilesUnder };

/** Options of {@link validateObjects} and {@link validateDirectory}. */
export interface ValidateOptions {
  /**
   * Secrets the output references but does not create, because they are supplied otherwise (Sealed Secrets, External
   * Secrets, by hand): references to them and their keys resolve. Secrets the output renders, and those the
   * credentials Job's spec (`secrets.json`) creates, resolve without being listed.
   * @default [] - every other Secret a workload reads is a finding
   */
  readonly knownSecrets?: readonly KnownSecret[];
  /**
   * Namespaces the cluster provides that the output does not render (an ingress controller's, a monitoring stack's):
   * NetworkPolicy peers in them resolve.
   * @default [] - a peer in a namespace the output lacks is a finding (kube-system aside)
   */
  readonly knownNamespaces?: readonly string[];
  /**
   * Where `typescript` is looked for first (for the unknown-field pass), before the one beside cd4ml; without either,
   * that pass is skipped and the report says why.
   * @default - the directory validated; for {@link validateObjects}, the current directory
   */
  readonly projectDir?: string;
}

/** A value to check, and where it was read. */
interface Source {
  readonly value: unknown;
  readonly file?: string;
  /** Its position in the file (or in the array given), from 1. */
  readonly index: number;
}

/**
 * Validates objects (synthesized, e.g. `[...chart.toJson()]`, or parsed): against the Kubernetes and Argo Workflows
 * schemas, unknown fields included; for references that resolve to nothing in them; and against the security bar.
 * The objects are taken as one whole output: a Secret or Service one of them names must be among them.
 * @returns the report: findings (none when the objects pass) and what was checked
 * @throws Error only when the validator itself cannot run (a schema package missing from the installation)
 */
export function validateObjects(objects: readonly unknown[], options: ValidateOptions = {}): Promise<ValidationReport> {
  return validate(objects.map((value, i) => ({ value, index: i + 1 })), 0, [], options, process.cwd());
}

/**
 * Validates every manifest under a directory (a GitOps repository, `cdk8s synth`'s output) as one whole output, as
 * {@link validateObjects} does: every `*.yaml` and `*.yml` file, recursively, in path order, each document of each
 * file; empty documents are skipped. `kustomization.yaml` files are not manifests: every local file their
 * `resources` list must exist. Directories starting with `.` (`.git`, `.github`) are not read.
 * @returns the report, as {@link validateObjects}'s, with the file of each finding
 * @throws Error (the promise rejects) when `dir` is not a directory, or the validator itself cannot run
 */
export async function validateDirectory(dir: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const contents = readManifestDirectory(dir);
  return validate(contents.documents, contents.files.length, contents.findings, options, dir);
}

/** The checks, over documents read from `files` files with `prior` findings already (unreadable files). */
async function validate(sources: readonly Source[], files: number, prior: readonly ValidationFinding[], options: ValidateOptions, defaultProjectDir: string): Promise<ValidationReport> {
  const findings: ValidationFinding[] = [...prior];
  const located: Located[] = [];
  for (const s of sources.flatMap(listItems)) {
    if (isKubeObject(s.value)) located.push({ object: s.value as Obj, file: s.file });
    else findings.push({ file: s.file, object: `document ${s.index}`, check: 'schema', message: 'not a Kubernetes object (apiVersion, kind and metadata.name are required). Fix: complete it, or move it out of the directory' });
  }
  findings.push(...duplicates(located));
  const schema = await checkSchemas(located, options.projectDir ?? defaultProjectDir);
  findings.push(...schema.findings);
  const objects = located.map((l) => l.object);
  const foreign = foreignKinds(objects, schema.foreignKinds);
  const index = new ObjectIndex(located);
  findings.push(...wholeOutputFindings('reference', index, () => danglingReferences(objects, options.knownSecrets ?? [], foreign, new Set(options.knownNamespaces ?? []))));
  findings.push(...wholeOutputFindings('security', index, () => securityViolations(objects, foreign)));
  const counts: Record<ValidationCheck, number> = { 'schema': 0, 'strict-schema': 0, 'reference': 0, 'security': 0 };
  for (const f of findings) counts[f.check]++;
  return {
    findings,
    counts,
    files,
    objects: located.length,
    schema: { checked: schema.checked, embedded: schema.embedded, byKind: schema.byKind },
    strict: schema.strict,
    notSchemaChecked: schema.notChecked,
  };
}

/** A `v1` `List` stands for its items (`kubectl get -o yaml` writes one); any other document for itself. */
function listItems(s: Source): Source[] {
  const v = s.value as { apiVersion?: unknown; kind?: unknown; items?: unknown } | null;
  if (v && v.apiVersion === 'v1' && v.kind === 'List' && Array.isArray(v.items)) return v.items.map((value) => ({ ...s, value }));
  return [s];
}

/** Whether a value has what every Kubernetes object has: the checks may read those without looking. */
function isKubeObject(v: unknown): v is KubeObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as KubeObject;
  const meta = o.metadata as { name?: unknown; namespace?: unknown } | undefined;
  return typeof o.apiVersion === 'string' && typeof o.kind === 'string' && typeof meta === 'object' && meta !== null
    && typeof meta.name === 'string' && (meta.namespace === undefined || typeof meta.namespace === 'string');
}

/**
 * Each object defined a second time: the cluster would hold only one (the last applied), Argo CD refuses to sync it,
 * and a reference to it could mean either. Most often two environments' folders validated as one.
 */
function duplicates(located: readonly Located[]): ValidationFinding[] {
  const first = new Map<string, Located>();
  const out: ValidationFinding[] = [];
  for (const l of located) {
    const { apiVersion, kind, metadata } = l.object;
    const key = `${String(apiVersion).split('/').slice(0, -1).join('/')} ${kind} ${metadata.namespace ?? ''}/${metadata.name}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, l);
    else out.push({ file: l.file, object: objectLabel(l.object), check: 'reference', message: `defined again${earlier.file === undefined ? '' : ` (first in ${earlier.file})`}. Fix: keep one definition; validate each environment's folder on its own` });
  }
  return out;
}

/**
 * The kinds no schema covers and no CRD in the output declares: the cluster provides them (Argo CD's Application),
 * so their CRDs are not expected here and their scope is unknown.
 */
function foreignKinds(objects: readonly Obj[], unschemed: ReadonlySet<string>): ReadonlySet<string> {
  const declared = new Set(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((c) => `${c.spec?.group}/${c.spec?.names?.kind}`));
  return new Set([...unschemed].filter((key) => {
    const [apiVersion, kind] = key.split(' ');
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    return !declared.has(`${group}/${kind}`);
  }));
}

/**
 * Runs a whole-output check and turns its messages into findings. The checks read fields without looking (a schema
 * finding already says what is missing); if one stops at a malformed object, that is one finding, not a crash.
 */
function wholeOutputFindings(check: 'reference' | 'security', index: ObjectIndex, run: () => string[]): ValidationFinding[] {
  let messages: string[];
  try {
    messages = run();
  } catch (e) {
    return [{ object: '(output)', check, message: `the ${check} checks stopped at a malformed object (${(e as Error).message}). Fix: correct the schema findings, then validate again` }];
  }
  return messages.map((m) => index.attribute(check, m));
}

/**
 * Finds the object a check's message is about. The checks write messages that start with the object (`Deployment
 * cd4ml/mlflow container mlflow: ...`, `Namespace argo: ...`, `Role pipeline-executor: ...`, or just its name);
 * the finding names it the one way, with its file, and keeps the rest as the message.
 */
class ObjectIndex {
  private readonly byFullName = new Map<string, Located[]>();
  private readonly byKindName = new Map<string, Located[]>();
  private readonly byName = new Map<string, Located[]>();

  public constructor(located: readonly Located[]) {
    for (const l of located) {
      const { kind, metadata } = l.object;
      add(this.byFullName, `${kind} ${metadata.namespace ?? '-'}/${metadata.name}`, l);
      add(this.byKindName, `${kind} ${metadata.name}`, l);
      add(this.byName, metadata.name, l);
    }
  }

  /** The finding a message describes: its object named and located when the message's head names one object. */
  public attribute(check: ValidationCheck, message: string): ValidationFinding {
    const sep = message.indexOf(': ');
    const head = (sep < 0 ? message : message.slice(0, sep)).split(' ');
    const tail = sep < 0 ? '' : message.slice(sep + 2);
    const tries: Array<[Map<string, Located[]>, string, number]> = [
      [head[1]?.includes('/') ? this.byFullName : this.byKindName, `${head[0]} ${head[1]}`, 2],
      [this.byName, head[0], 1],
    ];
    for (const [map, key, used] of tries) {
      const hits = map.get(key);
      if (hits?.length !== 1) continue;
      const rest = head.slice(used).join(' ');
      return { file: hits[0].file, object: objectLabel(hits[0].object), check, message: rest === '' ? tail || message : `${rest}: ${tail}` };
    }
    return { object: '(output)', check, message };
  }
}

function add(map: Map<string, Located[]>, key: string, l: Located): void {
  map.set(key, [...(map.get(key) ?? []), l]);
}
