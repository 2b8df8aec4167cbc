import * as pulumi from '@pulumi/pulumi';
import { Cd4mlValidationError, EnvironmentName, Problem } from '../index';
import { Cd4mlPlatform, SecretValues } from '../pulumi';
import { planStack, StackPlan } from './app';
import { parseStackConfig, readDefinition, StackConfig, stackEnvironment } from './config';

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
  trackingCredentials: pulumi.Output<{ namespace: string; secret: string; keys: string[] }>;
  clientEnv: pulumi.Output<Record<string, string>>;
  notes: pulumi.Output<string>;
}

/**
 * The repository's Pulumi program, a thin user of the `cd4ml/pulumi` component: the environment's definition
 * (`stacks/environments/<environment>.yaml`, which `npm run synth` reads too), the stack's secrets and its target
 * cluster, all checked before any resource is registered.
 * @param definitionsDir where the environments' definitions are (tests give their own)
 */
export function run(definitionsDir?: string): { platform: Cd4mlPlatform; outputs: StackOutputs } {
  const all = pulumi.runtime.allConfig();
  const stack = pulumi.getStack();
  const environment = stackEnvironment(stack, all);
  // one report: the target's problem with the settings' problems
  const target = targetProblem(stack, environment, all);
  let config: StackConfig;
  try {
    config = parseStackConfig(stack, all, Object.keys(all).filter((k) => isConfigSecret!(k)), readDefinition(environment, definitionsDir));
  } catch (e) {
    throw target && e instanceof Cd4mlValidationError ? new Cd4mlValidationError([target, ...e.problems]) : e;
  }
  if (target) throw new Cd4mlValidationError([target]);
  const plan = planStack(config);
  const platform = new Cd4mlPlatform('cd4ml', { definition: plan.definition, secrets: secretValues(plan) });
  return {
    platform,
    outputs: {
      trackingUri: platform.trackingUri,
      s3Endpoint: platform.s3Endpoint,
      argoServerUrl: platform.argoServerUrl,
      namespaces: platform.namespaces,
      portForward: platform.portForward,
      trackingCredentials: platform.trackingCredentials,
      clientEnv: platform.clientEnv,
      notes: platform.notes,
    },
  };
}

/**
 * Outside the sandbox a stack names its cluster (`kubernetes:context`, which the Kubernetes provider reads): without
 * it, `pulumi up --stack prod` would deploy wherever the current kubectl context points.
 */
export function targetProblem(stack: string, environment: EnvironmentName, all: Readonly<Record<string, string>>): Problem | undefined {
  if (environment === EnvironmentName.SANDBOX || (all['kubernetes:context'] ?? '') !== '') return undefined;
  return {
    path: `Pulumi stack ${stack}`, field: 'kubernetes:context', value: undefined,
    message: `is not set: ${environment} would be deployed to whatever cluster the current kubectl context points at`,
    fix: `pin the stack's cluster: \`pulumi config set kubernetes:context <context> --stack ${stack}\``,
  };
}

/** The Secrets Pulumi creates from the stack's secret config: external stores' keys, and overrides of generated ones. */
function secretValues(plan: StackPlan): SecretValues[] {
  const cfg = new pulumi.Config('cd4ml');
  const out: SecretValues[] = plan.externalSecrets.map(({ ref, configKeys }) => ({
    secret: ref,
    values: Object.fromEntries(Object.entries(configKeys).map(([key, configKey]) => [key, cfg.requireSecret(configKey)])),
  }));
  const overrides = plan.config.secrets.credentials;
  if (overrides !== undefined) {
    // the keys are read here to place each Secret; the values stay secret Outputs
    const given = JSON.parse(overrides) as Record<string, Record<string, string>>;
    const json = cfg.requireSecret('credentials');
    for (const [name, values] of Object.entries(given)) {
      out.push({ secret: name, values: Object.fromEntries(Object.keys(values).map((k) => [k, json.apply((j) => (JSON.parse(j) as Record<string, Record<string, string>>)[name][k])])) });
    }
  }
  return out;
}
