import { existsSync, readFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';

/** Where the tier's tools were built (test/cluster/tools/build.sh writes this file). */
export interface Tools {
  /** etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok. */
  readonly kube: string;
  /** workflow-controller, argo. */
  readonly argo: string;
  /** weed (SeaweedFS). */
  readonly seaweedfs: string;
  /** The Python virtual environment (bin/python, bin/mlflow). */
  readonly python: string;
  /** Postgres server binaries (initdb, postgres, pg_ctl). */
  readonly postgres: string;
}

/** The cache the tools are built into (the same default as build.sh: /var/cache as root, else ~/.cache). */
export const TOOLS_DIR = process.env.CD4ML_TOOLS_DIR
  ?? (process.getuid?.() === 0 ? '/var/cache/cd4ml-tools' : join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cd4ml-tools'));

let cached: Tools | undefined;

/** The built tools; fails with the command to run when they are missing. */
export function tools(): Tools {
  if (cached) return cached;
  const file = join(TOOLS_DIR, 'tools.json');
  if (!existsSync(file)) throw new Error(`no ${file}: build the tier's tools first with test/cluster/tools/build.sh (npm run test:cluster does)`);
  cached = JSON.parse(readFileSync(file, 'utf8')) as Tools;
  return cached;
}
