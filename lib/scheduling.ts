import { Problem } from './errors';
import { describeType, NameSite } from './names';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The name part of a qualified name (label keys, extended resource names): at most 63 characters. */
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** A label value: empty, or at most 63 characters of alphanumerics, "-", "_" and ".", alphanumeric at both ends. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `value` is not a Kubernetes qualified name (`[prefix/]name`), or undefined. */
function qualifiedNameIssue(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length > 2) return 'holds more than one "/"';
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return 'has a prefix that is not a DNS subdomain (lowercase a-z, 0-9, "-" and ".")';
  if (name.length === 0 || name.length > 63) return 'has a name part that is empty or longer than 63 characters';
  if (!QUALIFIED_NAME_PART.test(name)) return 'has a name part that is not alphanumerics, "-", "_" and ".", alphanumeric at both ends';
  return undefined;
}

/** Turns a bad name part into a good one (for fixes), or undefined. */
function suggestPart(value: string): string | undefined {
  const s = value.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
  return s === '' ? undefined : s;
}

/**
 * Checks a label key (also a node selector key or a taint key): an optional DNS subdomain prefix and "/", then a name of
 * at most 63 alphanumerics, "-", "_" and ".".
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 */
export function checkLabelKey(value: unknown, site: NameSite, example = 'app.kubernetes.io/name'): Problem | undefined {
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a label key`, fix: `use a key like "${example}"` };
  const issue = qualifiedNameIssue(value);
  if (issue === undefined) return undefined;
  const parts = value.split('/');
  const name = suggestPart(parts[parts.length - 1]);
  const prefix = parts.length === 2 ? parts[0].toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') : '';
  const guess = name === undefined ? undefined : prefix !== '' ? `${prefix}/${name}` : name;
  const fix = guess !== undefined && qualifiedNameIssue(guess) === undefined ? guess : example;
  return { ...site, value, message: `is not a label key: it ${issue}`, fix: `use a key like "${fix}"` };
}

/** Checks a label value (also a node selector value or a toleration value): empty, or at most 63 characters. */
export function checkLabelValue(value: unknown, site: NameSite, example = 'true'): Problem | undefined {
  if (typeof value === 'string' && value.length <= 63 && LABEL_VALUE.test(value)) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return { ...site, value, message: `is ${describeType(value)}, but label values are strings`, fix: `write it as a string, "${String(value)}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a label value`, fix: `use a value like "${example}"` };
  const guess = suggestPart(value) ?? example;
  return { ...site, value, message: 'is not a label value (at most 63 alphanumerics, "-", "_" and ".", alphanumeric at both ends)', fix: `use a value like "${LABEL_VALUE.test(guess) ? guess : example}"` };
}

/** Checks a map of labels (a pod or node selector): a plain object whose keys and values are label keys and values. */
export function checkLabels(value: unknown, site: NameSite): Problem[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [{ ...site, value, message: `is ${describeType(value)}, not a map of labels`, fix: 'give an object of label keys to values, e.g. { "app.kubernetes.io/name": "ingress-nginx" } (or {} for all)' }];
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [
    checkLabelKey(k, { ...site, field: `${site.field}[${JSON.stringify(k)}]` }),
    checkLabelValue(v, { ...site, field: `${site.field}[${JSON.stringify(k)}]` }),
  ]).filter((p): p is Problem => p !== undefined);
}

/**
 * Checks an extended resource name (GPUs and other devices): a qualified name with a domain prefix outside
 * `kubernetes.io`, such as `nvidia.com/gpu`, `amd.com/gpu` or `gpu.intel.com/i915`; `requests.<name>` must be a
 * qualified name too, since quotas name it so.
 * @see https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#extended-resources
 */
export function checkExtendedResourceName(value: unknown, site: NameSite): Problem | undefined {
  const fix = 'use the device plugin\'s resource name, e.g. "nvidia.com/gpu" (or "amd.com/gpu")';
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a resource name`, fix };
  if (!value.includes('/')) return { ...site, value, message: 'has no domain prefix: an extended resource is named "<domain>/<name>"', fix };
  const issue = qualifiedNameIssue(value) ?? qualifiedNameIssue(`requests.${value}`);
  if (issue) return { ...site, value, message: `is not an extended resource name: it ${issue}`, fix };
  const prefix = value.split('/')[0];
  if (prefix === 'kubernetes.io' || prefix.endsWith('.kubernetes.io')) return { ...site, value, message: 'is in the kubernetes.io domain, which holds native resources, not devices', fix };
  return undefined;
}

/** The toleration operators Kubernetes knows. */
export const TOLERATION_OPERATORS: readonly string[] = ['Exists', 'Equal'];
/** The taint effects Kubernetes knows. */
export const TAINT_EFFECTS: readonly string[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** A toleration as Kubernetes' Pod spec takes it. */
export interface TolerationSpec {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
  readonly tolerationSeconds?: number;
}

/**
 * Checks tolerations as the API server does (ValidateTolerations): a qualified key (or none, with `Exists`), the operator
 * `Exists` or `Equal`, a label value with `Equal` and none with `Exists`, the effect `NoSchedule`, `PreferNoSchedule`
 * or `NoExecute`, `tolerationSeconds` only with `NoExecute`.
 * @see https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
 */
export function checkTolerations(value: unknown, site: NameSite): Problem[] {
  if (!Array.isArray(value)) {
    return [{ ...site, value, message: `is ${describeType(value)}, not a list of tolerations`, fix: 'give a list, e.g. [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]' }];
  }
  const problems: Array<Problem | undefined> = [];
  value.forEach((t: unknown, i) => {
    const at = (f: string): NameSite => ({ ...site, field: `${site.field}[${i}]${f}` });
    if (t === null || typeof t !== 'object' || Array.isArray(t)) {
      problems.push({ ...at(''), value: t, message: `is ${describeType(t)}, not a toleration`, fix: 'give an object like { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }' });
      return;
    }
    const tol = t as Record<string, unknown>;
    const operator = tol.operator ?? 'Equal';
    if (!TOLERATION_OPERATORS.includes(operator as string)) {
      problems.push({ ...at('.operator'), value: tol.operator, message: 'is not a toleration operator', fix: `use "Exists" or "Equal"` });
    }
    if (tol.key === undefined || tol.key === '') {
      if (operator !== 'Exists') problems.push({ ...at('.key'), value: tol.key, message: 'is empty, which only the operator Exists allows (it tolerates every taint)', fix: 'name the taint key, e.g. "nvidia.com/gpu"' });
    } else problems.push(checkLabelKey(tol.key, at('.key'), 'nvidia.com/gpu'));
    if (operator === 'Exists' && tol.value !== undefined && tol.value !== '') {
      problems.push({ ...at('.value'), value: tol.value, message: 'is set with the operator Exists, which matches any value', fix: 'drop the value, or use the operator "Equal"' });
    } else if (tol.value !== undefined) problems.push(checkLabelValue(tol.value, at('.value')));
    if (tol.effect !== undefined && tol.effect !== '' && !TAINT_EFFECTS.includes(tol.effect as string)) {
      problems.push({ ...at('.effect'), value: tol.effect, message: 'is not a taint effect', fix: `use "NoSchedule", "PreferNoSchedule" or "NoExecute" (or leave it out for all)` });
    }
    if (tol.tolerationSeconds !== undefined) {
      if (typeof tol.tolerationSeconds !== 'number' || !Number.isInteger(tol.tolerationSeconds)) {
        problems.push({ ...at('.tolerationSeconds'), value: tol.tolerationSeconds, message: 'is not a whole number of seconds', fix: 'give whole seconds, e.g. 300' });
      } else if (tol.effect !== 'NoExecute') {
        problems.push({ ...at('.tolerationSeconds'), value: tol.tolerationSeconds, message: 'is set without the effect NoExecute, the only one it applies to', fix: 'set effect to "NoExecute", or drop tolerationSeconds' });
      }
    }
  });
  return problems.filter((p): p is Problem => p !== undefined);
}
