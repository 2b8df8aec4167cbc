import * as pulumi from '@pulumi/pulumi';
import { parseStackConfig } from './pulumi-config';
import { Cd4mlPlatform, planDeployment } from './pulumi-platform';

// Which config keys Pulumi holds as secrets (exported by the runtime, not by its typings).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require('@pulumi/pulumi/runtime/config') as { isConfigSecret?: (key: string) => boolean };
if (typeof isConfigSecret !== 'function') {
  throw new Error('cd4ml: this @pulumi/pulumi no longer exports runtime/config isConfigSecret, which tells secret config apart. Fix: pin @pulumi/pulumi to 3.276.x (package.json)');
}

/** The stack outputs. */
export interface StackOutputs {
  trackingUri: pulumi.Output<string>;
  s3Endpoint: pulumi.Output<string>;
  argoServerUrl: pulumi.Output<string>;
  namespaces: pulumi.Output<string[]>;
  portForward: pulumi.Output<Record<string, string>>;
}

/**
 * The Pulumi program: checks the stack's config (every problem at once, before any resource is registered), then
 * deploys the platform and its pipelines.
 */
export function run(): { platform: Cd4mlPlatform; outputs: StackOutputs } {
  const all = pulumi.runtime.allConfig();
  const config = parseStackConfig(pulumi.getStack(), all, Object.keys(all).filter((k) => isConfigSecret!(k)));
  // Everything is synthesized and checked before the first resource is registered.
  const plan = planDeployment(config);
  const platform = new Cd4mlPlatform('cd4ml', { plan });
  return {
    platform,
    outputs: {
      trackingUri: platform.trackingUri,
      s3Endpoint: platform.s3Endpoint,
      argoServerUrl: platform.argoServerUrl,
      namespaces: platform.namespaces,
      portForward: platform.portForward,
    },
  };
}
