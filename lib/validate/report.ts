/** The validation report: its findings, its counts, and how the CLI prints them. */

/**
 * Which check found a problem:
 * - `schema`: the official JSON schema of the kind (types, enums, required fields), or not a Kubernetes object at all;
 * - `strict-schema`: a field the kind does not have (`kubectl apply --validate=strict` refuses it);
 * - `reference`: a name that resolves to nothing in the output (a Secret, a ConfigMap key, a Service port, a file a
 *   kustomization lists, ...);
 * - `security`: a rule of the security bar (rule numbers in the message).
 */
export type ValidationCheck = 'schema' | 'strict-schema' | 'reference' | 'security';

/** One problem in the output. */
export interface ValidationFinding {
  /** The file that holds the object, as given (`dist/sandbox/platform/cd4ml.yaml`). @default - none: objects given directly, or a problem of the whole output */
  readonly file?: string;
  /**
   * The object: `Kind namespace/name`, or `Kind name` when it has no namespace; `document N` for a document that is
   * not a Kubernetes object; `Kustomization DIR` for a kustomization file; `(output)` when no one object is at fault.
   */
  readonly object: string;
  /** The check that found it. */
  readonly check: ValidationCheck;
  /** What is wrong, e.g. `/spec/ports/0/port must be integer` or `container main: privileged (rule 5)`. */
  readonly message: string;
}

/** What the schema passes covered. */
export interface SchemaCoverage {
  /** Objects validated against their kind's schema. */
  readonly checked: number;
  /** Documents embedded in ConfigMaps validated as what they are (Argo's workflow and container defaults). */
  readonly embedded: number;
  /** Objects and embedded documents checked, by kind. */
  readonly byKind: Readonly<Record<string, number>>;
}

/** What the strict (unknown-field) pass covered, or why it did not run. */
export interface StrictCoverage {
  /** Objects and embedded documents checked for unknown fields (0 when skipped). */
  readonly checked: number;
  /**
   * Why the pass did not run (`typescript` not installed, or too old), with the fix. Not a failure.
   * @default - none: the pass ran
   */
  readonly skipped?: string;
}

/** The result of a validation. */
export interface ValidationReport {
  /** Every problem found, in the order the checks ran; empty when the output passes. */
  readonly findings: readonly ValidationFinding[];
  /** Findings per check. */
  readonly counts: Readonly<Record<ValidationCheck, number>>;
  /** Manifest files read (kustomization files aside); 0 for objects given directly. */
  readonly files: number;
  /** Kubernetes objects read. */
  readonly objects: number;
  /** The JSON-schema pass. */
  readonly schema: SchemaCoverage;
  /** The unknown-field pass. */
  readonly strict: StrictCoverage;
  /**
   * Objects of kinds no schema covers (Argo CD's `Application`, other CRDs' kinds), by kind: checked for references
   * and the security bar only. Not findings.
   */
  readonly notSchemaChecked: Readonly<Record<string, number>>;
}

/** A finding as one line: `<file>: <Kind ns/name>: <check>: <message>` (no file part without a file). */
export function formatFinding(f: ValidationFinding): string {
  return `${f.file === undefined ? '' : `${f.file}: `}${f.object}: ${f.check}: ${f.message}`;
}

/**
 * The one-line summary, e.g. `cd4ml validate: 123 objects in 5 files, 0 findings (schema 123, strict 123,
 * references, security); not schema-checked: Application x3`.
 */
export function formatSummary(r: ValidationReport): string {
  const strict = r.strict.skipped === undefined ? `strict ${r.strict.checked}` : 'strict skipped';
  const unchecked = Object.entries(r.notSchemaChecked).map(([kind, n]) => `${kind} x${n}`);
  return `cd4ml validate: ${count(r.objects, 'object')} in ${count(r.files, 'file')}, ${count(r.findings.length, 'finding')} `
    + `(schema ${r.schema.checked}, ${strict}, references, security)${unchecked.length > 0 ? `; not schema-checked: ${unchecked.join(', ')}` : ''}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
