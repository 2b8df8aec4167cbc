import { Lazy } from 'cdk8s';

/**
 * A value computed at synthesis, typed as what it produces, for L1 props that are only known once every
 * `addX()` call has been made (a Role's resource names, a ConfigMap's generated spec).
 */
export function lazy<T>(produce: () => T): T {
  return Lazy.any({ produce }) as unknown as T;
}
