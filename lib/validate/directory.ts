/** Reads a directory of manifests, as `kubectl apply -R -f DIR`, Argo CD or Flux would: every YAML file under it. */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, posix, resolve } from 'path';
import { parse, parseAllDocuments } from 'yaml';
import { ValidationFinding } from './report';

/** A document of a manifest file. */
export interface ReadDocument {
  /** The document's value (an object, for a manifest). */
  readonly value: unknown;
  /** The file, joined to the directory as given. */
  readonly file: string;
  /** Its position in the file, from 1. */
  readonly index: number;
}

/** What a directory holds. */
export interface DirectoryContents {
  /** The manifest files read (kustomization files aside), sorted. */
  readonly files: readonly string[];
  /** Their non-empty documents, in file order. */
  readonly documents: readonly ReadDocument[];
  /** Files that are not YAML, kustomizations that list missing files. */
  readonly findings: readonly ValidationFinding[];
}

const KUSTOMIZATION = /^kustomization\.ya?ml$/;

/**
 * Every document of every `*.yaml`/`*.yml` file under `dir`, recursively and sorted by path, so the result does not
 * depend on the file system's order. Directories whose name starts with `.` (`.git`, `.github`) are not read: they
 * hold no manifests, and a CI workflow is YAML too. Kustomization files are not manifests: each `resources` entry
 * they list must exist.
 * @throws Error when `dir` is not a directory
 */
export function readManifestDirectory(dir: string): DirectoryContents {
  if (!isDirectory(dir)) throw new Error(`cd4ml validate: ${dir} is not a directory. Fix: name the directory of the manifests (e.g. dist)`);
  const files: string[] = [];
  const documents: ReadDocument[] = [];
  const findings: ValidationFinding[] = [];
  for (const rel of yamlFilesUnder(dir, '')) {
    const file = join(dir, rel);
    if (KUSTOMIZATION.test(posix.basename(rel))) {
      findings.push(...kustomizationFindings(file, rel));
      continue;
    }
    files.push(file);
    readDocuments(file, documents, findings);
  }
  return { files, documents, findings };
}

/**
 * The YAML files under `dir/rel`, as paths relative to `dir` (with `/`), sorted by name at each level; folders whose
 * name starts with a dot (`.git`, a folder a write set aside) are not read. Also what `cd4ml env`, `cd4ml graph` and
 * the data-loss guard read an output with.
 */
export function yamlFilesUnder(dir: string, rel = ''): string[] {
  const entries = readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.flatMap((e) => {
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    // a symlinked directory is not followed (it could loop); a symlinked file is read
    if (e.isDirectory()) return e.name.startsWith('.') ? [] : yamlFilesUnder(dir, path);
    return /\.ya?ml$/.test(e.name) && (e.isFile() || (e.isSymbolicLink() && isFile(join(dir, path)))) ? [path] : [];
  });
}

/** Adds the non-empty documents of a file, or a finding for each that is not YAML. */
function readDocuments(file: string, documents: ReadDocument[], findings: ValidationFinding[]): void {
  parseAllDocuments(readFileSync(file, 'utf8')).forEach((doc, i) => {
    const where = { file, object: `document ${i + 1}`, check: 'schema' as const };
    if (doc.errors.length > 0) {
      findings.push({ ...where, message: `not valid YAML: ${doc.errors[0].message}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (e) {
      // e.g. more alias expansions than the reader allows (a "billion laughs" document)
      findings.push({ ...where, message: `not readable: ${(e as Error).message}` });
      return;
    }
    if (value !== null && value !== undefined) documents.push({ value, file, index: i + 1 });
  });
}

/** Each `resources` entry of a kustomization that names a local path that does not exist. */
function kustomizationFindings(file: string, rel: string): ValidationFinding[] {
  const object = `Kustomization ${posix.dirname(rel)}`;
  let k: unknown;
  try {
    k = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return [{ file, object, check: 'schema', message: `not valid YAML: ${(e as Error).message}` }];
  }
  const resources = (k as { resources?: unknown } | null)?.resources;
  if (resources === undefined) return [];
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) {
    return [{ file, object, check: 'schema', message: 'resources is not a list of paths. Fix: list the files and directories to apply, e.g. resources: [platform/cd4ml.yaml]' }];
  }
  return (resources as string[])
    .filter((r) => !isRemote(r) && !existsSync(resolve(dirname(file), r)))
    .map((r) => ({ file, object, check: 'reference' as const, message: `resources lists ${r}, which does not exist. Fix: write ${r}, or remove it from resources` }));
}

/** A remote kustomize resource (a Git repository or a URL): not checked, it is not in the directory. */
function isRemote(resource: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(resource) || /^(git@|github\.com\/|gitlab\.com\/|bitbucket\.org\/)/.test(resource) || resource.includes('?ref=');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
