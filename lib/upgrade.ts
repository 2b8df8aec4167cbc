import { Problem } from './errors';

/**
 * Annotation on a StatefulSet whose volume holds data in a format only its own software reads (`postgres 17`,
 * `seaweedfs 4`): a change of it needs a migration, not a restart.
 */
export const DATA_FORMAT_ANNOTATION = 'cd4ml.io/data-format';

/** The environment variable that lets named StatefulSets (`namespace/name`, comma-separated) change after a migration. */
export const ACKNOWLEDGE_ENV = 'CD4ML_ACKNOWLEDGE_DATA_CHANGE';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What the README calls each procedure (the fix points there). */
const RESIZE = 'README "Resizing a store": grow the PVC in place, delete the StatefulSet with --cascade=orphan, apply';
const MIGRATE = 'README "Moving a store": back up, restore into the new store, then remove the old one';

function key(o: Obj): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function claims(o: Obj): Map<string, { storage?: string; storageClassName?: string }> {
  const out = new Map<string, { storage?: string; storageClassName?: string }>();
  for (const t of (o.spec?.volumeClaimTemplates ?? []) as Obj[]) {
    out.set(String(t.metadata?.name), { storage: t.spec?.resources?.requests?.storage, storageClassName: t.spec?.storageClassName });
  }
  return out;
}

/**
 * Compares the stores of the output already written (what the cluster or the GitOps repository holds) with the new
 * one, before anything is written, and reports every change that would lose data or that the API server refuses:
 * - a volume's size or StorageClass (immutable `volumeClaimTemplates`: `kubectl apply` fails, `pulumi up` wants a
 *   replacement of a protected resource);
 * - a data format change (a Postgres major version crash-loops on the old data directory);
 * - a store that disappears from its namespace (a rename or a prune would leave the data behind, or delete it
 *   with the namespace).
 * StatefulSets named in `acknowledged` (`namespace/name`) pass: their migration is done.
 */
export function checkDataSafeUpgrade(previous: readonly Obj[], next: readonly Obj[], acknowledged: readonly string[] = []): Problem[] {
  const problems: Problem[] = [];
  // a store is a StatefulSet with claims; outputs written before the data-format annotation are stores too
  const stores = (objs: readonly Obj[]) => new Map(objs.filter((o) => o?.kind === 'StatefulSet' && o.metadata?.name && (o.metadata?.annotations?.[DATA_FORMAT_ANNOTATION] || (o.spec?.volumeClaimTemplates ?? []).length > 0)).map((o) => [key(o), o]));
  const before = stores(previous);
  const after = new Map(next.filter((o) => o?.kind === 'StatefulSet').map((o) => [key(o), o]));
  const ack = `set ${ACKNOWLEDGE_ENV}`;
  for (const [k, old] of before) {
    if (acknowledged.includes(k)) continue;
    const path = `StatefulSet ${k}`;
    const now = after.get(k);
    if (!now) {
      const moved = [...after.values()].find((o) => o.metadata?.name === old.metadata?.name);
      problems.push({
        path,
        field: moved ? 'namespace' : 'store',
        value: moved ? moved.metadata.namespace : '(removed)',
        message: moved
          ? `moves the store from namespace "${old.metadata.namespace}": the new one starts empty and a prune deletes the old one with its data`
          : 'is no longer rendered: a GitOps prune deletes it, and deleting its namespace deletes its data',
        fix: moved
          ? `keep it in namespace "${old.metadata.namespace}"; to move it on purpose, follow ${MIGRATE}, then ${ack}=${k}`
          : `keep rendering it${String(old.metadata?.annotations?.[DATA_FORMAT_ANNOTATION] ?? old.metadata?.name).startsWith('minio') ? ' (objectStore: ObjectStoreChoice.minio() keeps an existing MinIO)' : ''}; to retire it on purpose, follow ${MIGRATE}, then ${ack}=${k}`,
      });
      continue;
    }
    const was = old.metadata?.annotations?.[DATA_FORMAT_ANNOTATION];
    const is = now.metadata?.annotations?.[DATA_FORMAT_ANNOTATION];
    if (was !== undefined && is !== undefined && String(is) !== String(was)) {
      problems.push({
        path,
        field: 'data format',
        value: String(is),
        message: `differs from the "${was}" its volume holds: the server would crash-loop on the old data directory`,
        fix: `keep the "${was}" image (${oldImage(old) ?? 'the previous one'}); to upgrade, follow ${MIGRATE}, then ${ack}=${k}`,
      });
    }
    const oldClaims = claims(old);
    for (const [name, c] of claims(now)) {
      const o = oldClaims.get(name);
      if (!o) continue;
      for (const field of ['storage', 'storageClassName'] as const) {
        if (o[field] !== c[field]) {
          problems.push({
            path,
            field: `volumeClaimTemplates.${name}.${field}`,
            value: c[field] ?? '(cluster default)',
            message: `differs from the ${o[field] ?? '(cluster default)'} the existing volume was made with, and the field is immutable`,
            fix: field === 'storage'
              ? `keep ${o.storage}; to grow it, follow ${RESIZE}, then ${ack}=${k}`
              : `keep ${o.storageClassName === undefined ? 'the cluster default' : `"${o.storageClassName}"`}; to change it, follow ${MIGRATE}, then ${ack}=${k}`,
          });
        }
      }
    }
  }
  return problems;
}

function oldImage(o: Obj): string | undefined {
  return (o.spec?.template?.spec?.containers as Obj[] | undefined)?.[0]?.image;
}

/** The Postgres major version of an image reference (`postgres:17.11-alpine3.24` -> `17`), when its tag says it. */
export function postgresMajor(image: string): string | undefined {
  const tag = /:(\d+)(?:[.-]|$)/.exec(image.split('@')[0]);
  return tag?.[1];
}
