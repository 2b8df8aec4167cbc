import { k8s } from 'cdk8s-plus-27';
import { checkDnsSubdomain, checkSecretKey, describeType, fail, Problem } from '../../lib';

/**
 * A Kubernetes Secret that workloads read by reference. Its values never appear in a rendered file.
 * Either generated inside the cluster at deploy time ({@link CredentialsGenerator}) or supplied by the
 * user ({@link SecretRef.fromSecretName}).
 */
export interface ISecret {
  /** The Secret's name. */
  readonly secretName: string;
  /** The keys the Secret holds. */
  readonly keys: readonly string[];
  /**
   * Makes sure the Secret exists in `namespace`: a generated Secret is copied there; an imported one
   * records the namespace in `requiredIn`.
   */
  availableIn(namespace: string): void;
  /** The namespaces the Secret must exist in. */
  readonly requiredIn: readonly string[];
}

/**
 * A Secret passed to share credentials granted elsewhere, as a JavaScript caller may pass it: undefined (not shared) or
 * something with a name that can be made available in a namespace.
 */
export function checkSharedSecret(value: unknown, site: { path: string; field: string }, what: string, fix: string): Problem | undefined {
  if (value === undefined) return undefined;
  const s = value as Partial<ISecret> | null;
  if (s !== null && typeof s === 'object' && typeof s.secretName === 'string' && typeof s.availableIn === 'function') return undefined;
  return { ...site, value: describeType(value), message: `is not a Secret of ${what}`, fix };
}

/** An environment variable that reads `key` of `secret` (which must hold that key). */
export function secretEnv(envName: string, secret: ISecret, key: string): k8s.EnvVar {
  if (!secret.keys.includes(key)) {
    fail({
      path: `Secret ${secret.secretName} (read as ${envName})`,
      field: 'key',
      value: key,
      message: 'is not a key of this secret',
      fix: `use one of ${secret.keys.join(', ')}`,
    });
  }
  return { name: envName, valueFrom: { secretKeyRef: { name: secret.secretName, key } } };
}

/** A Secret that already exists (created by the user, an operator, External Secrets, Sealed Secrets...). */
export class SecretRef implements ISecret {
  /**
   * Refers to an existing Secret by name; it must hold `keys` in every namespace listed in `requiredIn`
   * after synthesis.
   */
  public static fromSecretName(secretName: string, keys: string[]): SecretRef {
    const p = checkDnsSubdomain(secretName, { path: 'SecretRef.fromSecretName', field: 'secretName' });
    if (p) fail(p);
    for (const k of keys) {
      const kp = checkSecretKey(k, { path: `SecretRef.fromSecretName(${secretName})`, field: 'keys' });
      if (kp) fail(kp);
    }
    return new SecretRef(secretName, keys);
  }

  private readonly namespaces = new Set<string>();

  private constructor(public readonly secretName: string, private readonly keyList: string[]) {}

  public get keys(): readonly string[] {
    return [...this.keyList];
  }

  public availableIn(namespace: string): void {
    this.namespaces.add(namespace);
  }

  public get requiredIn(): readonly string[] {
    return [...this.namespaces];
  }
}
