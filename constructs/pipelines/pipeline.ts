import { validateRenderedObjects } from '../k8s/output-checks';
import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  analyzeGraph, checkCount, checkDnsLabel, checkDnsSubdomain, checkDuration, checkEnvName, checkImage, checkNoCredential, checkUid, describeGraphProblem, describeType, fail,
  isCredentialFlag, parseDuration, Problem, Problems, checkCron, checkNoNulls, isPlainObject, withoutFields, addSynthCheck, withArticle, countOf, snapshot, checkPropsObject, suggestName, Quantity, QuantityKind, REDACTED, stepLabel, toMermaidFlowchart,
} from '../../lib';
import { ISecret, secretEnv } from '../k8s/secret';
import { ARGO_API_VERSION } from '../platform/argo-crds';
import { componentLabels, PART_OF } from '../k8s/labels';
import { lazy } from '../k8s/lazy';
import { PipelineRunner } from '../platform/pipeline-runner';
import { GPU_REFUSED } from '../platform/refused';
import {
  FanOut, IStepValue, LiteralValue, ParameterType, PipelineParameter, Scalar, StepArtifact, StepOutput, typeMismatch,
} from './values';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../k8s/pod-security';
import {
  checkStepOptions, Condition, endpointConflict, endpointPolicySpec, ExternalEndpoint, optionVolumes, StepOptionProps,
} from './step-options';
import { PodGcStrategy } from '../platform/workflow-controller';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENTRYPOINT = 'dag';
/** The DAG Argo runs when the pipeline ends, around the exit handler step. */
const EXIT = 'on-exit';

/** GPUs for one step. */
export interface GpuRequest {
  /** Whole number of GPUs (at least 1). */
  readonly count: number;
  /**
   * GPU model, matched against the runner's `gpu.productLabel` (NVIDIA's `nvidia.com/gpu.product`, e.g.
   * `NVIDIA-A100-SXM4-40GB`; GKE's `cloud.google.com/gke-accelerator`, e.g. `nvidia-tesla-a100`). @default - any model
   */
  readonly product?: string;
}

/** Compute a step asks for. Unset values come from the runner's step defaults. */
export interface StepResources {
  /** CPU request. @default - the runner's step default (sandbox: 250m) */
  readonly cpu?: string;
  /** Memory request. @default - the runner's step default (sandbox: 512Mi) */
  readonly memory?: string;
  /** Memory limit. @default - the larger of the memory request and the runner's default limit */
  readonly memoryLimit?: string;
  /** Ephemeral storage request and limit (for /tmp and image layers). @default - none */
  readonly ephemeralStorage?: string;
  /** GPUs; needs GPU scheduling on the runner. @default - none */
  readonly gpu?: GpuRequest;
}

/**
 * When a failed step is retried.
 * @see https://argo-workflows.readthedocs.io/en/latest/retries/
 */
export enum RetryOn {
  /** Failed (non-zero exit) or errored steps. */
  ALWAYS = 'Always',
  /** Only steps whose code failed. */
  FAILURE = 'OnFailure',
  /** Only steps that errored (pod deleted, node lost, ...). */
  ERROR = 'OnError',
  /** Only transient errors (Argo's list, plus `TRANSIENT_ERROR_PATTERN`). */
  TRANSIENT = 'OnTransientError',
}

/** Retries of a step, with exponential backoff. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 to 20). */
  readonly limit: number;
  /** What to retry. @default RetryOn.ALWAYS */
  readonly on?: RetryOn;
  /** Wait before the first retry. @default '30s' */
  readonly backoff?: string;
  /** Factor the wait grows by. @default 2 */
  readonly factor?: number;
  /** Longest total time spent retrying. @default - no cap */
  readonly maxDuration?: string;
}

/**
 * Caching of a step's outputs (Argo memoization), keyed by the step, its image, the cache version and the values
 * of all its inputs (and its fan-out item). Bump `version` to invalidate, also after changing the step's command,
 * args or env, which the key does not cover. A cached step may also retry: the controller writes the cache when an
 * attempt succeeds (argo-workflows#10426, fixed in v3.5.5 by 46c1324; shown by the real-servers tier).
 * @see https://argo-workflows.readthedocs.io/en/latest/memoization/
 */
export interface CachePolicy {
  /** Cache version, like flytekit's `cache_version` (letters, digits and '-'). */
  readonly version: string;
  /** Longest age of a reusable result. @default '168h' (seven days) */
  readonly maxAge?: string;
}

/** One key of a Secret, read into a step's environment by reference. */
export interface SecretKeyRef {
  /** The Secret (made available in the runner's namespace when the step is added). */
  readonly secret: ISecret;
  /** The key to read; the Secret must hold it. */
  readonly key: string;
}

/** How a step reads a credential: by Secret reference, never as a literal (env values and args are rendered in plain text). */
const CREDENTIAL_FIX = 'pass it as a Secret reference: secretEnv: { NAME: { secret, key } } puts it in the step\'s environment, where the code reads it (an argument may say $(NAME))';

/** Props of {@link Pipeline.addStep}. */
export interface StepProps extends StepOptionProps {
  /** The step's image, pinned by tag (not `latest`) or digest. Required. */
  readonly image: string;
  /** Entrypoint. @default - the image's */
  readonly command?: string[];
  /** Arguments; each input is appended as `--<name> <value>`. @default [] */
  readonly args?: string[];
  /** Inputs by name: a parameter, another step's output (which creates the edge), a fan-out item, or a literal. @default {} */
  readonly inputs?: Record<string, IStepValue | Scalar>;
  /** Small output values the step writes to `/tmp/outputs/<name>`, with their types. @default {} */
  readonly outputs?: Record<string, ParameterType>;
  /** Artifacts of other steps to receive at `/inputs/<name>` (creates the edge). @default {} */
  readonly inputArtifacts?: Record<string, StepArtifact>;
  /** Artifacts the step writes to `/tmp/artifacts/<name>`, stored in the platform's object store. @default [] */
  readonly outputArtifacts?: string[];
  /** Further non-secret environment variables; a value that looks like a credential is refused. @default {} */
  readonly env?: Record<string, string>;
  /** Environment variables read from Secrets by reference (tokens, passwords): never rendered as values. @default {} */
  readonly secretEnv?: Record<string, SecretKeyRef>;
  /** CPU, memory, ephemeral storage, GPUs. @default - the runner's step defaults */
  readonly resources?: StepResources;
  /** Retries. @default - none */
  readonly retry?: RetryPolicy;
  /** Deadline of one attempt, e.g. `30m`. @default - the pipeline's deadline */
  readonly timeout?: string;
  /** Output caching. @default - none */
  readonly cache?: CachePolicy;
  /** Steps to run after, besides those whose outputs this step reads. @default [] */
  readonly after?: Step[];
  /** Run several times in parallel. @default - once */
  readonly fanOut?: FanOut;
}

/** A step of a pipeline: one container run (or several, fanned out). */
export class Step {
  /** The steps it runs after (explicit and through its inputs). */
  public readonly dependencies: readonly Step[];
  /** Its inputs, with literals wrapped. */
  public readonly inputs: ReadonlyMap<string, IStepValue>;

  public constructor(
    /** The pipeline it belongs to. */
    public readonly pipeline: Pipeline,
    /** Step name (a DNS-1123 label). */
    public readonly name: string,
    /** What it runs. */
    public readonly props: StepProps,
    /**
     * Whether {@link Pipeline.addStep} refused it: its problems are in the synth's report, and it is built without the
     * fields at fault, so wiring to it reports nothing more.
     * @default false
     */
    public readonly refused = false,
  ) {
    this.inputs = new Map(Object.entries(props.inputs ?? {}).map(([k, v]) => [k, isStepValue(v) ? v : new LiteralValue(v)]));
    const deps: Step[] = [...(props.after ?? [])];
    const producer = (p: NonNullable<IStepValue['producer']>, field: string): Step => (p instanceof Step ? p : fail({
      path: `${pipeline.node.path}/${name}`, field, value: p.name, message: 'is produced by something that is not a step', fix: 'wire the output of a step, from step.output() or step.artifact()',
    }, pipeline));
    for (const [k, v] of this.inputs) if (v.producer) deps.push(producer(v.producer, `inputs.${k}`));
    for (const [k, a] of Object.entries(props.inputArtifacts ?? {})) deps.push(producer(a.producer, `inputArtifacts.${k}`));
    if (props.fanOut?.spec.output) deps.push(producer(props.fanOut.spec.output.producer, 'fanOut'));
    if (props.when instanceof Condition && props.when.value?.producer) deps.push(producer(props.when.value.producer, 'when'));
    this.dependencies = [...new Set(deps)];
  }

  /** A small output value, to wire into another step's inputs. */
  public output(name: string): StepOutput {
    const type = this.props.outputs?.[name];
    if (type === undefined) {
      if (this.refused) return new StepOutput(this, String(name), ParameterType.STRING);
      fail({ path: `${this.pipeline.node.path}/${this.name}`, field: 'output', value: name, message: 'is not an output of this step', fix: `declare it in outputs, or use one of ${Object.keys(this.props.outputs ?? {}).join(', ') || '(none)'}` }, this.pipeline);
    }
    return new StepOutput(this, name, type);
  }

  /** An output artifact, to pass to another step's `inputArtifacts`. */
  public artifact(name: string): StepArtifact {
    if (!(this.props.outputArtifacts ?? []).includes(name) && !this.refused) {
      fail({ path: `${this.pipeline.node.path}/${this.name}`, field: 'artifact', value: name, message: 'is not an output artifact of this step', fix: `declare it in outputArtifacts, or use one of ${(this.props.outputArtifacts ?? []).join(', ') || '(none)'}` }, this.pipeline);
    }
    return new StepArtifact(this, name);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isStepValue(v: unknown): v is IStepValue {
  return typeof v === 'object' && v !== null && 'expression' in v;
}

/** Concurrency of scheduled runs. */
export enum ConcurrencyPolicy {
  /** Runs may overlap. */
  ALLOW = 'Allow',
  /** Skip a run while the previous one is still running. */
  FORBID = 'Forbid',
  /** Stop the running one and start the new one. */
  REPLACE = 'Replace',
}

/** Props of {@link Pipeline.addSchedule}. */
export interface ScheduleProps {
  /** Cron expression with five fields, e.g. `0 3 * * *`, or `@daily`/`@hourly`/`@weekly`/`@monthly`. Required. */
  readonly cron: string;
  /** IANA time zone the schedule is read in. @default 'UTC' */
  readonly timezone?: string;
  /** What to do while a previous run is still running. @default ConcurrencyPolicy.FORBID */
  readonly concurrencyPolicy?: ConcurrencyPolicy;
  /** Parameter values for scheduled runs. @default - the parameters' defaults */
  readonly arguments?: Record<string, Scalar>;
  /** Create the schedule suspended. @default false */
  readonly suspend?: boolean;
}

/** Props of {@link Pipeline.addEventTrigger}. */
export interface EventTriggerProps {
  /**
   * Extra condition on the event, an Argo expression over `payload` and `metadata`, e.g. `payload.bucket == "data"`.
   * @default - every event sent to this trigger's endpoint
   * @see https://argo-workflows.readthedocs.io/en/latest/events/
   */
  readonly selector?: string;
  /** Parameter values taken from the event, as expressions, e.g. `{ data_key: 'payload.key' }`. @default {} */
  readonly arguments?: Record<string, string>;
}

/** What an event trigger exposes to its callers. */
export interface EventTrigger {
  /** The argo-server path to POST events to: `/api/v1/events/<namespace>/<discriminator>`. */
  readonly path: string;
  /** The Secret holding a token allowed to send events (key `token`). */
  readonly tokenSecretName: string;
  /** The WorkflowEventBinding. */
  readonly binding: ApiObject;
}

/** Props of {@link Pipeline}. */
export interface PipelineProps {
  /** The runner whose namespace, service accounts and step defaults the pipeline uses. */
  readonly runner: PipelineRunner;
  /** Name of the WorkflowTemplate (a DNS-1123 label). @default - the construct id */
  readonly name?: string;
  /** What the pipeline does. @default - none */
  readonly description?: string;
  /** MLflow experiment every step logs to (`MLFLOW_EXPERIMENT_NAME`). @default - the pipeline's name */
  readonly experiment?: string;
  /** Deadline of a whole run. @default '24h' */
  readonly timeout?: string;
  /** How long a finished run is kept. @default '168h' */
  readonly ttlAfterCompletion?: string;
  /** Most steps running at once. @default - no limit besides the namespace quota */
  readonly parallelism?: number;
  /** uid/gid step containers run as. @default 1000 */
  readonly runAsUser?: number;
  /**
   * The service account steps run as, which must exist in the runner's namespace (one per pipeline lets a cloud's
   * workload identity give each pipeline its own cloud role). Steps still get no Kubernetes API token.
   * @default - the runner's `pipeline-runner`
   */
  readonly serviceAccountName?: string;
}

/**
 * A typed DAG of steps rendered to an Argo `WorkflowTemplate` in the runner's namespace, with the runner's service
 * accounts, restricted security contexts, a deadline, a TTL and pod GC; its triggers (schedules, events) render beside it.
 * Passing one step's output to another's input creates the edge.
 */
export class Pipeline extends Construct {
  /** Name of the WorkflowTemplate. */
  public readonly name: string;
  /** The runner. */
  public readonly runner: PipelineRunner;
  /** MLflow experiment name. */
  public readonly experiment: string;
  /** The WorkflowTemplate. */
  public readonly template: ApiObject;
  private readonly stepMap = new Map<string, Step>();
  /** Parameters refused under a bad or taken name (reported once, at addParameter). */
  private readonly refusedParams = new WeakSet<PipelineParameter>();
  private readonly refusedParamNames = new Set<string>();
  /** Steps refused under a bad or taken name (reported once, at addStep). */
  private readonly rejected = new WeakSet<Step>();
  private readonly params = new Map<string, PipelineParameter>();
  private cacheConfigMap?: string;
  private readonly props: PipelineProps;
  /** Endpoints outside the cluster, by name, with the steps that reach them (one NetworkPolicy each). */
  private readonly endpoints = new Map<string, { readonly endpoint: ExternalEndpoint; readonly steps: string[] }>();
  private exitStep?: Step;

  public constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const path = this.node.path;
    const given: PipelineProps = isPlainObject(props) ? snapshot(props) : ({} as PipelineProps);
    // without a runner there is nothing to build on: that stops here (with what the app deferred before)
    if (!(given.runner instanceof PipelineRunner)) {
      fail({ path, field: 'runner', value: describeType(given.runner), message: 'is not a PipelineRunner', fix: 'pass the platform\'s runner: { runner: platform.pipelineRunner }' }, this);
    }
    // the rest is reported with the app's other problems; the pipeline is built on defaults in their place, so the
    // steps, schedules and triggers declared on it are checked too
    const problems = Pipeline.checkProps(path, id, given);
    this.props = problems.deferIfAny(this) ? withoutFields(given, problems.list) : given;
    this.runner = given.runner;
    // a refused name gives way to a valid one, so the names built from it (schedules, triggers) raise nothing more
    const nameRefused = problems.list.some((p) => p.field === 'name');
    this.name = nameRefused ? suggestName(given.name ?? id).slice(0, 50).replace(/-+$/, '') : (this.props.name ?? id);
    this.experiment = this.props.experiment ?? this.name;
    this.runner.addPipeline(this.name);

    this.template = new ApiObject(this, 'Template', {
      apiVersion: ARGO_API_VERSION,
      kind: 'WorkflowTemplate',
      metadata: {
        name: this.name,
        namespace: this.runner.namespace,
        labels: { ...componentLabels('pipeline', this.name, 'pipeline'), 'cd4ml.io/pipeline': this.name, ...this.runner.workflowControllerLabels },
        annotations: props.description ? { 'workflows.argoproj.io/description': props.description } : undefined,
      },
      spec: lazy(() => this.renderSpec()),
    });
    addSynthCheck(this, () => this.validateGraph());
    // collisions, sizes and name lengths across everything the app renders
    validateRenderedObjects(this);
  }

  private static checkProps(path: string, id: string, props: PipelineProps): Problems {
    const problems = new Problems();
    checkNoNulls(props, path).forEach((p) => problems.add(p));
    const name = props.name ?? id;
    problems.addIf(checkDnsLabel(name, { path, field: 'name' }));
    if (typeof name === 'string' && name.length > 50) problems.add({ path, field: 'name', value: name, message: 'is longer than 50 characters (Argo appends a suffix to run names)', fix: `shorten it, e.g. "${name.slice(0, 50).replace(/-+$/, '')}"` });
    if (props.experiment !== undefined && (typeof props.experiment !== 'string' || props.experiment.trim() === '')) problems.add({ path, field: 'experiment', value: props.experiment, message: `is ${typeof props.experiment === 'string' ? 'empty' : describeType(props.experiment)}, not an experiment name`, fix: 'give a name, or leave it out to use the pipeline\'s' });
    if (props.description !== undefined && typeof props.description !== 'string') problems.add({ path, field: 'description', value: props.description, message: `is ${describeType(props.description)}, not text`, fix: 'give a sentence, or leave it out' });
    if (props.timeout !== null) problems.addIf(checkDuration(props.timeout ?? '24h', { path, field: 'timeout' }));
    if (props.ttlAfterCompletion !== null) problems.addIf(checkDuration(props.ttlAfterCompletion ?? '168h', { path, field: 'ttlAfterCompletion' }));
    if (props.parallelism != null) problems.addIf(checkCount(props.parallelism, 1, { path, field: 'parallelism' }));
    if (props.runAsUser != null) problems.addIf(checkUid(props.runAsUser, { path, field: 'runAsUser' }));
    if (props.serviceAccountName !== undefined) problems.addIf(checkDnsSubdomain(props.serviceAccountName, { path, field: 'serviceAccountName' }));
    return problems;
  }

  /**
   * Declares a typed parameter with its default; refuses a name declared before or a default of another type.
   * @param options `type` and `default` are required; `description` (@default - the type's name) is shown in the Argo UI
   */
  public addParameter(name: string, options: { readonly type: ParameterType; readonly default: Scalar; readonly description?: string }): PipelineParameter {
    const site = { path: this.node.path, field: `parameters.${name}` };
    const problems = new Problems();
    const usable = typeof name === 'string' && IDENT.test(name) && !this.params.has(name);
    if (typeof name !== 'string' || !IDENT.test(name)) problems.add({ ...site, value: name, message: 'is not a valid parameter name', fix: 'use letters, digits and "_", like "n_estimators"' });
    else if (this.params.has(name)) problems.add({ ...site, value: name, message: 'is declared twice', fix: 'declare each parameter once' });
    const given = isPlainObject(options) ? snapshot(options) : ({} as { type: ParameterType; default: Scalar; description?: string });
    if (!isPlainObject(options)) problems.add({ ...site, field: `${site.field} options`, value: describeType(options), message: 'is not an object of type and default', fix: `give { type: ParameterType.STRING, default: "..." }` });
    else if (!(Object.values(ParameterType) as unknown[]).includes(given.type)) {
      problems.add({ ...site, field: `${site.field}.type`, value: given.type, message: 'is not a parameter type', fix: `use ParameterType.STRING, NUMBER, INTEGER or BOOLEAN ("${Object.values(ParameterType).join('", "')}")` });
    } else {
      const mismatch = typeMismatch(given.type, given.default);
      if (mismatch) problems.add({ ...site, field: `${site.field}.default`, value: given.default, message: `${mismatch} (the parameter is declared ${given.type})`, fix: `give ${withArticle(given.type)} default, or change the type` });
      problems.addIf(checkNoCredential(given.default, { ...site, field: `${site.field}.default` }, 'a default is rendered in the WorkflowTemplate in plain text: give a harmless default and read the credential in the step from a Secret (a step\'s secretEnv)'));
    }
    // reported with the app's other problems; a parameter with a usable name still joins, so the steps that read it
    // are not reported again
    problems.deferIfAny(this);
    const p = new PipelineParameter(this.name, String(name), given.type, given.default, given.description);
    if (usable) this.params.set(name, p);
    else { // reported here; the steps, schedules and triggers that use it report nothing more
      this.refusedParams.add(p);
      this.refusedParamNames.add(String(name));
    }
    return p;
  }

  /** The parameters (a copy). */
  public get parameters(): readonly PipelineParameter[] {
    return [...this.params.values()];
  }

  /** Adds a step; refuses a duplicate name and reports every problem of its props together. */
  public addStep(name: string, props: StepProps): Step {
    props = snapshot(props); // what is checked is what renders, whatever the caller changes afterwards
    const path = `${this.node.path}/${name}`;
    const problems = new Problems();
    const nameProblem = checkDnsLabel(name, { path, field: 'name' });
    if (nameProblem) problems.add(nameProblem);
    if (name === ENTRYPOINT || name === EXIT) problems.add({ path, field: 'name', value: name, message: 'is reserved for the pipeline\'s DAG templates', fix: 'choose another step name' });
    if (this.stepMap.has(name) || this.exitStep?.name === name) problems.add({ path, field: 'name', value: name, message: 'is a duplicate step name', fix: 'give each step of the pipeline its own name' });
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ image: "ghcr.io/acme/train:1.0.0", command: ["python", "train.py"] }');
    if (notProps) problems.add(notProps);
    else this.checkStepProps(problems, path, props);
    // a bad step is reported with the app's other problems; the step is still returned (without the fields at
    // fault), so the steps wired to it are checked too, but it never joins the graph under a bad or taken name
    const rejected = problems.deferIfAny(this);
    if (rejected) props = withoutFields(isPlainObject(props) ? props : ({} as StepProps), problems.list);
    const step = new Step(this, name, props, rejected);
    if (rejected && problems.list.some((p) => p.field === 'name')) {
      this.rejected.add(step);
      return step;
    }
    this.stepMap.set(name, step);
    this.attach(name, props);
    if (props.cache && !this.cacheConfigMap) {
      const controllerNamespace = this.runner.workflowControllerNamespace;
      if (controllerNamespace === undefined) {
        fail({ path, field: 'cache', value: props.cache, message: 'needs the workflow controller\'s namespace, where Argo keeps caches, and no WorkflowEngine manages this runner yet', fix: 'declare the WorkflowEngine (or the Platform) before the pipeline, or drop cache' }, this);
      }
      this.cacheConfigMap = this.runner.cacheConfigMapName(this.name);
      new ApiObject(this, 'Cache', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: this.cacheConfigMap, namespace: controllerNamespace, labels: { ...componentLabels('pipeline', this.name, 'cache'), 'workflows.argoproj.io/configmap-type': 'Cache' } },
      });
      this.runner.addCacheConfigMap(this.cacheConfigMap);
    }
    return step;
  }

  /**
   * Adds the step Argo runs when the pipeline ends, whatever the outcome: a notification, a cleanup (Argo's exit
   * handler). It reads the outcome in `CD4ML_PIPELINE_STATUS` (`Succeeded`, `Failed` or `Error`) and the failed nodes
   * in `CD4ML_PIPELINE_FAILURES`: a JSON list that Argo quotes once more as a JSON string, so decode it twice
   * (`json.loads(json.loads(...))`; strconv.Quote in Argo's workflow/controller/operator.go, v4.0.5). It takes parameters and literals as inputs; other steps' outputs and
   * artifacts may not exist when it runs, so it takes none. One per pipeline.
   * @see https://argo-workflows.readthedocs.io/en/latest/walk-through/exit-handlers/
   */
  public addExitHandler(name: string, props: StepProps): Step {
    props = snapshot(props);
    const path = `${this.node.path}/${name}`;
    const problems = new Problems();
    problems.addIf(checkDnsLabel(name, { path, field: 'name' }));
    if (name === ENTRYPOINT || name === EXIT) problems.add({ path, field: 'name', value: name, message: 'is reserved for the pipeline\'s DAG templates', fix: 'choose another name, e.g. "notify"' });
    if (this.stepMap.has(name)) problems.add({ path, field: 'name', value: name, message: 'is the name of a step of the pipeline', fix: 'give the exit handler its own name, e.g. "notify"' });
    if (this.exitStep) problems.add({ path, field: 'name', value: name, message: `is a second exit handler (the pipeline has "${this.exitStep.name}")`, fix: 'do both in one exit handler step' });
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ image: "ghcr.io/acme/notify:1.0.0", command: ["python", "notify.py"] }');
    if (notProps) problems.add(notProps);
    else {
      this.checkStepProps(problems, path, props);
      for (const [input, value] of Object.entries(props.inputs ?? {})) {
        if (value instanceof StepOutput) problems.add({ path, field: `inputs.${input}`, value: `${value.producer.name}.${value.name}`, message: 'is a step\'s output, which may not exist when the pipeline ends', fix: 'pass parameters and literals; read results from MLflow or the object store' });
      }
      const unavailable = (['inputArtifacts', 'after', 'fanOut', 'when', 'cache'] as const).filter((f) => props[f] !== undefined);
      for (const field of unavailable) problems.add({ path, field, value: describeType(props[field]), message: 'does not apply to an exit handler, which runs once when the pipeline ends', fix: `drop ${field}` });
    }
    const rejected = problems.deferIfAny(this);
    if (rejected) props = withoutFields(isPlainObject(props) ? props : ({} as StepProps), problems.list);
    const step = new Step(this, name, props, rejected);
    if (rejected && problems.list.some((p) => p.field === 'name')) return step;
    this.exitStep = step;
    this.attach(name, props);
    return step;
  }

  /** The exit handler step, if any. */
  public get exitHandler(): Step | undefined {
    return this.exitStep;
  }

  /** Makes a step's Secrets available in the runner's namespace and opens its endpoints to it. */
  private attach(name: string, props: StepProps): void {
    for (const ref of [...Object.values(props.secretEnv ?? {}), ...Object.values(props.secretFiles ?? {})]) ref.secret.availableIn(this.runner.namespace);
    for (const endpoint of props.egress ?? []) {
      const known = this.endpoints.get(endpoint.name);
      if (known) {
        known.steps.push(name);
        continue;
      }
      const entry = { endpoint, steps: [name] };
      this.endpoints.set(endpoint.name, entry);
      // additive to the runner's policy: these pods, and no other pod of the namespace, may reach the endpoint
      new ApiObject(this, `Egress-${endpoint.name}`, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: {
          name: `${this.name}-to-${endpoint.name}`,
          namespace: this.runner.namespace,
          labels: { ...componentLabels('pipeline', this.name, 'network-policy'), 'cd4ml.io/pipeline': this.name },
          annotations: endpoint.host ? { 'cd4ml.io/endpoint-host': endpoint.host } : undefined,
        },
        spec: lazy(() => endpointPolicySpec(this.name, entry.endpoint, entry.steps)),
      });
    }
  }

  /** The checks of a step's options, and those that need the rest of the pipeline. */
  private checkOptions(problems: Problems, path: string, props: StepProps): void {
    const r: StepResources = isPlainObject(props.resources) ? props.resources : {};
    const memory = r.memory ?? this.runner.stepDefaults.memory;
    const limit = r.memoryLimit ?? (Quantity.tryParse(memory) ? maxQuantity(memory, this.runner.stepDefaults.memoryLimit) : undefined);
    checkStepOptions(problems, path, props, limit);
    if (props.when instanceof Condition) {
      const v: unknown = props.when.value;
      if (v instanceof StepOutput && v.producer.pipeline !== this) problems.add({ path, field: 'when', value: `${v.producer.pipeline.name}/${v.producer.name}.${v.name}`, message: 'tests an output of a step outside this pipeline', fix: 'test outputs of this pipeline\'s own steps, or a parameter' });
      if (v instanceof PipelineParameter && this.params.get(v.name) !== v && !this.refusedParams.has(v)) problems.add({ path, field: 'when', value: `${v.pipelineName}.${v.name}`, message: 'tests a parameter of another pipeline', fix: 'declare the parameter on this pipeline with addParameter' });
      if (v === FanOut.ITEM && !props.fanOut) problems.add({ path, field: 'when', value: '{{item}}', message: 'tests the fan-out item of a step that does not fan out', fix: 'set fanOut on the step, or test an output or a parameter' });
      const type = v instanceof StepOutput || v instanceof PipelineParameter ? v.type : undefined;
      if (props.when.numeric && (type === ParameterType.STRING || type === ParameterType.BOOLEAN)) {
        problems.add({ path, field: 'when', value: `${props.when.operator} ${String(props.when.operand)}`, message: `compares ${v instanceof StepOutput ? `the output ${v.name}` : `the parameter ${(v as PipelineParameter).name}`}, declared ${type}, as a number`, fix: `declare it ${ParameterType.NUMBER}, or compare with Condition.equals` });
      }
    }
    // a fanned-out GPU step runs its copies at once (up to the pipeline's parallelism): more GPUs than the quota
    // would leave copies pending on the quota until others finish
    const copies = props.fanOut instanceof FanOut ? props.fanOut.spec.items?.length ?? props.fanOut.spec.count : undefined;
    const gpus = r.gpu?.count;
    const quota = this.runner.quota.gpus;
    if (copies && typeof gpus === 'number' && Number.isInteger(gpus) && gpus >= 1 && gpus <= quota && this.runner.gpu) {
      const together = Math.min(copies, this.props.parallelism ?? copies);
      if (gpus * together > quota) {
        problems.add({ path, field: 'fanOut', value: copies, message: `runs ${countOf(together, 'copy', 'copies')} at once with ${countOf(gpus, 'GPU')} each, ${gpus * together} GPUs together, more than the pipeline namespace's GPU quota (${quota}), so copies would wait on the quota`, fix: `set the pipeline's parallelism to ${Math.floor(quota / gpus)}, or raise the quota's gpus to ${gpus * together}` });
      }
    }
    (Array.isArray(props.egress) ? props.egress : []).forEach((e: unknown, i) => {
      const known = isPlainObject(e) && typeof e.name === 'string' ? this.endpoints.get(e.name) : undefined;
      const conflict = known && Array.isArray((e as ExternalEndpoint).cidrs) ? endpointConflict(e as ExternalEndpoint, known.endpoint) : undefined;
      if (conflict) problems.add({ path, field: `egress[${i}]`, value: (e as ExternalEndpoint).name, message: conflict, fix: 'declare the endpoint once (a const the steps share) and list it in each step that reaches it' });
    });
  }

  /** The steps (a copy), in declaration order. */
  public get steps(): readonly Step[] {
    return [...this.stepMap.values()];
  }

  /**
   * Runs the pipeline on a schedule (an Argo CronWorkflow referring to the template).
   * @returns the CronWorkflow
   */
  public addSchedule(id: string, props: ScheduleProps): ApiObject {
    const path = `${this.node.path}/${id}`;
    const problems = new Problems();
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ cron: "0 2 * * *" }');
    if (notProps) problems.add(notProps);
    props = notProps ? { cron: '0 2 * * *' } : snapshot(props); // what is checked is what renders, whatever the caller changes afterwards
    const name = `${this.name}-${id}`;
    problems.addIf(checkDnsLabel(name, { path, field: 'id' }));
    if (this.node.tryFindChild(`Schedule-${id}`)) problems.add({ path, field: 'id', value: id, message: 'is a duplicate schedule id', fix: 'give each schedule its own id' });
    if (name.length > 52) problems.add({ path, field: 'id', value: id, message: `makes the CronWorkflow name "${name}" longer than the 52 characters Argo accepts`, fix: 'shorten the schedule id or the pipeline name' });
    problems.addIf(checkCron(props.cron, { path, field: 'cron' }));
    const timezone = props.timezone ?? 'UTC';
    if (!isTimeZone(timezone)) problems.add({ path, field: 'timezone', value: timezone, message: 'is not an IANA time zone', fix: 'use a name like "Europe/Berlin" or "UTC"' });
    this.checkArguments(problems, path, props.arguments ?? {});
    // reported with the app's other problems; what is returned is never rendered (the synth stops at its report)
    if (problems.deferIfAny(this)) return new ApiObject(this, `Refused-${this.node.children.length}`, { apiVersion: ARGO_API_VERSION, kind: 'CronWorkflow', metadata: { name: 'refused' } });
    return new ApiObject(this, `Schedule-${id}`, {
      apiVersion: ARGO_API_VERSION,
      kind: 'CronWorkflow',
      metadata: { name, namespace: this.runner.namespace, labels: { ...componentLabels('pipeline', this.name, 'schedule'), 'cd4ml.io/pipeline': this.name, ...this.runner.workflowControllerLabels } },
      spec: {
        schedules: [props.cron],
        timezone,
        concurrencyPolicy: props.concurrencyPolicy ?? ConcurrencyPolicy.FORBID,
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        suspend: props.suspend ?? false,
        workflowMetadata: { labels: { 'cd4ml.io/pipeline': this.name, 'cd4ml.io/trigger': 'schedule', ...this.runner.workflowControllerLabels } },
        workflowSpec: {
          workflowTemplateRef: { name: this.name },
          arguments: argumentsOf(props.arguments ?? {}),
        },
      },
    });
  }

  /**
   * Submits the pipeline when an event arrives at argo-server's events endpoint: new training data (a bucket
   * notification), or a monitor reporting a degraded model. Callers authenticate with the runner's trigger token.
   */
  public addEventTrigger(id: string, props: EventTriggerProps = {}): EventTrigger {
    const path = `${this.node.path}/${id}`;
    const problems = new Problems();
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ selector: "payload.bucket == \\"data\\"" }');
    if (notProps) problems.add(notProps);
    props = notProps ? {} : snapshot(props); // what is checked is what renders, whatever the caller changes afterwards
    const name = `${this.name}-${id}`;
    problems.addIf(checkDnsLabel(name, { path, field: 'id' }));
    if (this.node.tryFindChild(`Event-${id}`)) problems.add({ path, field: 'id', value: id, message: 'is a duplicate trigger id', fix: 'give each trigger its own id' });
    if (props.selector !== undefined && !balanced(props.selector)) problems.add({ path, field: 'selector', value: props.selector, message: 'has unbalanced parentheses or quotes, which could make it match every event', fix: 'close every parenthesis and quote' });
    for (const [param, expr] of Object.entries(props.arguments ?? {})) {
      if (!this.params.has(param) && !this.refusedParamNames.has(param)) problems.add({ path, field: `arguments.${param}`, value: expr, message: 'is not a parameter of the pipeline', fix: `declare it with addParameter, or use one of ${[...this.params.keys()].join(', ') || '(none)'}` });
      if (expr.trim() === '') problems.add({ path, field: `arguments.${param}`, value: expr, message: 'is empty', fix: 'give an expression over the event, like "payload.key"' });
    }
    // reported with the app's other problems; what is returned is never rendered (the synth stops at its report)
    if (problems.deferIfAny(this)) {
      const refused = new ApiObject(this, `Refused-${this.node.children.length}`, { apiVersion: ARGO_API_VERSION, kind: 'WorkflowEventBinding', metadata: { name: 'refused' } });
      return { path: `/api/v1/events/${this.runner.namespace}/${name}`, tokenSecretName: '', binding: refused };
    }
    const tokenSecretName = this.runner.enableEventTriggers();
    const selector = `discriminator == "${name}"${props.selector ? ` && (${props.selector})` : ''}`;
    const binding = new ApiObject(this, `Event-${id}`, {
      apiVersion: ARGO_API_VERSION,
      kind: 'WorkflowEventBinding',
      metadata: { name, namespace: this.runner.namespace, labels: { ...componentLabels('pipeline', this.name, 'event-trigger'), 'cd4ml.io/pipeline': this.name, ...this.runner.workflowControllerLabels } },
      spec: {
        event: { selector },
        submit: {
          workflowTemplateRef: { name: this.name },
          // argo-server evaluates these label values as expressions (server/event/dispatch/operation.go
          // populateWorkflowMetadata): a plain `breast-cancer` is an unknown name there, so they are string literals
          metadata: { labels: { 'cd4ml.io/pipeline': JSON.stringify(this.name), 'cd4ml.io/trigger': JSON.stringify(id) } },
          arguments: Object.keys(props.arguments ?? {}).length === 0 ? undefined : {
            parameters: Object.entries(props.arguments ?? {}).map(([n, expr]) => ({ name: n, valueFrom: { event: expr } })),
          },
        },
      },
    });
    return { path: `/api/v1/events/${this.runner.namespace}/${name}`, tokenSecretName, binding };
  }

  /** The DAG as a Mermaid flowchart, steps in execution order. */
  public toMermaid(): string {
    const analysis = analyzeGraph(this.steps.map((s) => s.name), new Map(this.steps.map((s) => [s.name, s.dependencies.map((d) => d.name)])));
    const order = analysis.problems.length === 0 ? analysis.order : this.steps.map((s) => s.name);
    return toMermaidFlowchart(this.name, order.map((n) => {
      const s = this.stepMap.get(n)!;
      const label = stepLabel(n, { gpus: s.props.resources?.gpu?.count, fanOut: !!s.props.fanOut, cached: !!s.props.cache });
      return { id: n, label, dependsOn: s.dependencies.map((d) => d.name) };
    }));
  }

  private checkStepProps(problems: Problems, path: string, props: StepProps): void {
    problems.addIf(checkImage(props.image, { path, field: 'image' }));
    for (const [name, value] of Object.entries(props.inputs ?? {})) {
      const site = { path, field: `inputs.${name}` };
      if (!IDENT.test(name)) problems.add({ ...site, value: name, message: 'is not a valid input name', fix: 'use letters, digits and "_"' });
      if (value instanceof StepOutput && value.producer.pipeline !== this) problems.add({ ...site, value: `${value.producer.pipeline.name}/${value.producer.name}.${value.name}`, message: 'is an output of a step outside this pipeline', fix: 'wire outputs of this pipeline\'s own steps, or pass the value as a parameter' });
      if (value instanceof PipelineParameter && this.params.get(value.name) !== value && !this.refusedParams.has(value)) problems.add({ ...site, value: `${value.pipelineName}.${value.name}`, message: 'is a parameter of another pipeline', fix: 'declare the parameter on this pipeline with addParameter' });
      if (value === FanOut.ITEM && !props.fanOut) problems.add({ ...site, value: '{{item}}', message: 'is the fan-out item of a step that does not fan out', fix: 'set fanOut on the step' });
    }
    for (const [name, type] of Object.entries(props.outputs ?? {})) {
      if (!IDENT.test(name)) problems.add({ path, field: `outputs.${name}`, value: name, message: 'is not a valid output name', fix: 'use letters, digits and "_"' });
      if (!Object.values(ParameterType).includes(type)) problems.add({ path, field: `outputs.${name}`, value: type, message: 'is not a ParameterType', fix: `use one of ${Object.values(ParameterType).join(', ')}` });
    }
    for (const [name, artifact] of Object.entries(props.inputArtifacts ?? {})) {
      if (!IDENT.test(name)) problems.add({ path, field: `inputArtifacts.${name}`, value: name, message: 'is not a valid artifact name', fix: 'use letters, digits and "_"' });
      if (!(artifact instanceof StepArtifact)) {
        problems.add({ path, field: `inputArtifacts.${name}`, value: describeType(artifact), message: 'is not an artifact of a step', fix: 'pass step.artifact("<name>") of an earlier step' });
        continue;
      }
      if (artifact.producer.pipeline !== this) problems.add({ path, field: `inputArtifacts.${name}`, value: `${artifact.producer.pipeline.name}/${artifact.producer.name}`, message: 'is an artifact of a step outside this pipeline', fix: 'pass artifacts between steps of one pipeline' });
    }
    for (const name of props.outputArtifacts ?? []) if (!IDENT.test(name)) problems.add({ path, field: 'outputArtifacts', value: name, message: 'is not a valid artifact name', fix: 'use letters, digits and "_"' });
    const artifactNames = props.outputArtifacts ?? [];
    if (new Set(artifactNames).size !== artifactNames.length) problems.add({ path, field: 'outputArtifacts', value: artifactNames, message: 'names an artifact twice', fix: 'name each artifact once' });
    this.checkPlainText(problems, path, props);
    for (const name of Object.keys(isRecord(props.env) ? props.env : {})) {
      problems.addIf(checkEnvName(name, { path, field: `env.${name}` }));
      if (/^(MLFLOW_|AWS_|CD4ML_)/.test(name) || name === 'HOME') problems.add({ path, field: `env.${name}`, value: name, message: 'would override a value the runner or pipeline sets', fix: 'configure it on the runner or pipeline instead' });
      else if (/(PASSWORD|SECRET|TOKEN|PRIVATE|ACCESS_KEY|CREDENTIAL)/i.test(name)) problems.add({ path, field: `env.${name}`, value: name, message: 'looks like a credential, and env values are written into the manifests in plain text', fix: 'read credentials from a Secret (the runner passes S3 credentials by reference)' });
    }
    const after: unknown = props.after;
    if (after !== undefined && !Array.isArray(after)) problems.add({ path, field: 'after', value: describeType(after), message: 'is not a list of steps', fix: 'give a list of steps, e.g. after: [prepare]' });
    else (after ?? []).forEach((x: unknown, i: number) => { if (!(x instanceof Step)) problems.add({ path, field: `after[${i}]`, value: describeType(x), message: 'is not a step', fix: 'give steps returned by addStep()' }); });
    for (const s of Array.isArray(after) ? after.filter((x): x is Step => x instanceof Step) : []) if (s.pipeline !== this) problems.add({ path, field: 'after', value: `${s.pipeline.name}/${s.name}`, message: 'is a step outside this pipeline', fix: 'order only steps of this pipeline' });
    this.checkResources(problems, path, props.resources ?? {});
    this.checkOptions(problems, path, props);
    if (props.retry) {
      const r = props.retry;
      problems.addIf(checkCount(r.limit, 0, { path, field: 'retry.limit' }, 20));
      // Argo reads these as Go durations itself (v1alpha1.ParseStringToDuration; memoize.maxAge with time.ParseDuration
      // in workflow/controller/operator.go), so 500ms is fine
      problems.addIf(checkDuration(r.backoff ?? '30s', { path, field: 'retry.backoff' }, { wholeSeconds: false }));
      if (r.maxDuration !== undefined) problems.addIf(checkDuration(r.maxDuration, { path, field: 'retry.maxDuration' }, { wholeSeconds: false }));
      if (r.factor !== undefined) problems.addIf(checkCount(r.factor, 1, { path, field: 'retry.factor' }));
    }
    if (props.timeout !== undefined) problems.addIf(checkDuration(props.timeout, { path, field: 'timeout' }));
    if (props.cache) {
      if (!/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(props.cache.version)) problems.add({ path, field: 'cache.version', value: props.cache.version, message: 'is not a short version of letters, digits and "-"', fix: 'use a version like "1" or "2024-06"' });
      problems.addIf(checkDuration(props.cache.maxAge ?? '168h', { path, field: 'cache.maxAge' }, { wholeSeconds: false }));
    }
    if (props.fanOut !== undefined && !(props.fanOut instanceof FanOut)) {
      problems.add({ path, field: 'fanOut', value: describeType(props.fanOut), message: 'is not a FanOut', fix: 'use FanOut.items([...]), FanOut.workers(n) or FanOut.overOutput(step.output("name"))' });
    }
    const f = props.fanOut instanceof FanOut ? props.fanOut.spec : undefined;
    if (f?.items !== undefined && f.items.length === 0) problems.add({ path, field: 'fanOut', value: [], message: 'has no items', fix: 'give at least one item' });
    if (f?.count !== undefined) problems.addIf(checkCount(f.count, 1, { path, field: 'fanOut' }, 1000));
    if (f?.output && f.output.producer.pipeline !== this) problems.add({ path, field: 'fanOut', value: f.output.name, message: 'fans out over an output of a step outside this pipeline', fix: 'fan out over an output of this pipeline\'s own steps' });
  }

  /**
   * What a step renders in plain text (command, args, env values, literal inputs, fan-out items): the right types for
   * JavaScript callers, and no value that looks like a credential (never shown; the fix says to pass a Secret reference).
   * `secretEnv` entries must name a key their Secret holds.
   */
  private checkPlainText(problems: Problems, path: string, props: StepProps): void {
    for (const field of ['command', 'args'] as const) {
      const list: unknown = props[field];
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        problems.add({ path, field, value: list, message: `is ${describeType(list)}, not a list of strings`, fix: 'give a list of strings, e.g. ["--epochs", "10"]' });
        continue;
      }
      list.forEach((a: unknown, i) => {
        const site = { path, field: `${field}[${i}]` };
        if (typeof a !== 'string') problems.add({ ...site, value: a, message: `is ${describeType(a)}, not a string`, fix: typeof a === 'number' || typeof a === 'boolean' ? `write it as a string, "${String(a)}"` : 'give each argument as a string' });
        else if (i > 0 && isCredentialFlag(list[i - 1]) && checkNoCredential(`${String(list[i - 1]).replace(/^-+/, '')}=${a}`, site)) {
          problems.add({ ...site, value: REDACTED, message: `follows ${String(list[i - 1])}, so it looks like a credential, which would be written into the manifests in plain text`, fix: CREDENTIAL_FIX });
        } else problems.addIf(checkNoCredential(a, site, CREDENTIAL_FIX));
      });
    }
    if (props.env !== undefined && !isRecord(props.env)) problems.add({ path, field: 'env', value: props.env, message: `is ${describeType(props.env)}, not a map of names to values`, fix: 'give an object, e.g. { LOG_LEVEL: "info" }' });
    for (const [name, value] of Object.entries(isRecord(props.env) ? props.env : {})) {
      const site = { path, field: `env.${name}` };
      if (typeof value !== 'string') problems.add({ ...site, value, message: `is ${describeType(value)}, but env values are strings`, fix: typeof value === 'number' || typeof value === 'boolean' ? `write it as a string, "${String(value)}"` : 'give the value as a string' });
      else problems.addIf(checkNoCredential(value, site, CREDENTIAL_FIX));
    }
    for (const [name, value] of Object.entries(isRecord(props.inputs) ? props.inputs : {})) {
      if (!isStepValue(value)) problems.addIf(checkNoCredential(value, { path, field: `inputs.${name}` }, 'inputs are rendered as arguments in plain text: read the credential in the step from a Secret (secretEnv)'));
    }
    (props.fanOut instanceof FanOut ? props.fanOut.spec.items ?? [] : []).forEach((item, i) => problems.addIf(checkNoCredential(item, { path, field: `fanOut.items[${i}]` }, 'fan-out items are rendered in plain text: read the credential in the step from a Secret (secretEnv)')));
    if (props.secretEnv !== undefined && !isRecord(props.secretEnv)) problems.add({ path, field: 'secretEnv', value: describeType(props.secretEnv), message: 'is not a map of names to Secret keys', fix: 'give an object, e.g. { API_TOKEN: { secret, key: "token" } }' });
    for (const [name, ref] of Object.entries(isRecord(props.secretEnv) ? props.secretEnv : {})) {
      const site = { path, field: `secretEnv.${name}` };
      problems.addIf(checkEnvName(name, site));
      if (/^(MLFLOW_|AWS_|CD4ML_)/.test(name) || name === 'HOME') problems.add({ ...site, value: name, message: 'would override a value the runner or pipeline sets', fix: 'configure it on the runner or pipeline instead' });
      if (isRecord(props.env) && name in props.env) problems.add({ ...site, value: name, message: 'is also set in env', fix: 'set each variable once' });
      const keys: unknown = isRecord(ref) && isRecord(ref.secret) ? ref.secret.keys : undefined;
      if (!isRecord(ref) || !isRecord(ref.secret) || !Array.isArray(keys) || typeof ref.secret.availableIn !== 'function') {
        problems.add({ ...site, value: describeType(ref), message: 'is not a Secret key reference', fix: 'give { secret, key }, the secret an ISecret such as SecretRef.fromSecretName("api-token", ["token"])' });
      } else if (typeof ref.key !== 'string' || !keys.includes(ref.key)) {
        problems.add({ ...site, field: `${site.field}.key`, value: ref.key, message: `is not a key of the Secret ${String(ref.secret.secretName)}`, fix: `use one of ${keys.join(', ') || '(none)'}` });
      }
    }
  }

  private checkResources(problems: Problems, path: string, r: StepResources): void {
    if (r.cpu !== undefined) problems.addIf(Quantity.check(r.cpu, QuantityKind.CPU, { path, field: 'resources.cpu' }));
    if (r.memory !== undefined) problems.addIf(Quantity.check(r.memory, QuantityKind.BYTES, { path, field: 'resources.memory' }));
    if (r.memoryLimit !== undefined) problems.addIf(Quantity.check(r.memoryLimit, QuantityKind.BYTES, { path, field: 'resources.memoryLimit' }));
    if (r.ephemeralStorage !== undefined) problems.addIf(Quantity.check(r.ephemeralStorage, QuantityKind.BYTES, { path, field: 'resources.ephemeralStorage' }));
    const req = Quantity.tryParse(r.memory ?? this.runner.stepDefaults.memory);
    const lim = Quantity.tryParse(r.memoryLimit ?? '');
    if (req && lim && lim.value < req.value) problems.add({ path, field: 'resources.memoryLimit', value: r.memoryLimit, message: `is below the memory request ${r.memory ?? this.runner.stepDefaults.memory}`, fix: 'raise the limit to at least the request' });
    // A pod bigger than the namespace's whole quota is refused at admission every time: say so at synth.
    const quota = this.runner.quota;
    const kinds = { cpu: QuantityKind.CPU, memory: QuantityKind.BYTES, memoryLimit: QuantityKind.BYTES };
    for (const [field, given, total] of [['cpu', r.cpu, quota.cpu], ['memory', r.memory, quota.memory], ['memoryLimit', r.memoryLimit, quota.memoryLimit]] as const) {
      // a quantity of the wrong kind is reported above, once
      const q = typeof given === 'string' && !Quantity.check(given, kinds[field], { path, field }) ? Quantity.tryParse(given) : undefined;
      const t = Quantity.tryParse(total);
      if (q && t && q.value > t.value) {
        problems.add({ path, field: `resources.${field}`, value: given, message: `exceeds the pipeline namespace's whole quota (${total}), so the pod would never be admitted`, fix: `request at most "${total}", or raise the runner's quota.${field === 'memoryLimit' ? 'memoryLimit' : field}` });
      }
    }
    if (r.gpu && Number.isInteger(r.gpu.count) && r.gpu.count > quota.gpus && this.runner.gpu && r.gpu.count <= this.runner.gpu.maxPerStep) {
      problems.add({ path, field: 'resources.gpu.count', value: r.gpu.count, message: `exceeds the pipeline namespace's GPU quota (${quota.gpus})`, fix: `request at most ${Math.max(quota.gpus, 1)}, or raise the runner's quota.gpus` });
    }
    if (r.gpu) {
      const n = r.gpu.count;
      if (!Number.isInteger(n) || n < 1) {
        problems.add({ path, field: 'resources.gpu.count', value: n, message: 'is not a whole number of GPUs of at least 1', fix: 'request whole GPUs (Kubernetes cannot share one between containers)' });
      } else if (!this.runner.gpu && !GPU_REFUSED.has(this.runner)) {
        problems.add({ path, field: 'resources.gpu', value: r.gpu, message: `asks for GPUs, but runner ${this.runner.node.path} has no GPU scheduling, so the step could land on no node`, fix: 'configure the runner\'s (or platform\'s) gpu prop with the GPU node pool\'s labels and taints' });
      } else if (this.runner.gpu && n > this.runner.gpu.maxPerStep) {
        problems.add({ path, field: 'resources.gpu.count', value: n, message: `exceeds the runner's ${countOf(this.runner.gpu.maxPerStep, 'GPU')} per step`, fix: 'request fewer GPUs, or raise gpu.maxPerStep and the quota' });
      }
    }
  }

  private checkArguments(problems: Problems, path: string, args: Record<string, Scalar>): void {
    for (const [name, value] of Object.entries(args)) {
      const p = this.params.get(name);
      if (!p && this.refusedParamNames.has(name)) continue;
      if (!p) {
        problems.add({ path, field: `arguments.${name}`, value, message: 'is not a parameter of the pipeline', fix: `use one of ${[...this.params.keys()].join(', ') || '(none)'}` });
        continue;
      }
      const mismatch = typeMismatch(p.type, value);
      if (mismatch) problems.add({ path, field: `arguments.${name}`, value, message: `${mismatch} (the parameter is declared ${p.type})`, fix: `pass ${withArticle(p.type)}` });
      else problems.addIf(checkNoCredential(value, { path, field: `arguments.${name}` }, 'arguments are rendered in plain text: read the credential in the step from a Secret (a step\'s secretEnv)'));
    }
  }

  private validateGraph(): Problem[] {
    const steps = this.steps;
    const analysis = analyzeGraph(steps.map((s) => s.name), new Map(steps.map((s) => [s.name, s.dependencies
      .filter((d) => !this.rejected.has(d)) // a step refused at addStep is reported there, not again as unknown
      .map((d) => (d.pipeline === this && this.stepMap.get(d.name) === d ? d.name : `${d.pipeline.name}/${d.name}`))])));
    return analysis.problems.map((p) => {
      const fix = p.kind === 'cycle' ? 'remove one of the edges on the cycle (an input wired to a later step\'s output, or an `after`)'
        : p.kind === 'empty' ? 'add at least one step with addStep()'
          : p.kind === 'unknown-dependency' ? 'add that step to this pipeline, or remove the dependency' : 'remove the step from its own `after`';
      return { path: this.node.path, field: 'steps', value: p.kind === 'cycle' ? p.cycle.join(' -> ') : p.kind === 'empty' ? [] : undefined, message: describeGraphProblem(p), fix };
    });
  }

  private renderSpec(): Record<string, unknown> {
    const runner = this.runner;
    const steps = this.steps;
    const analysis = analyzeGraph(steps.map((s) => s.name), new Map(steps.map((s) => [s.name, s.dependencies.map((d) => d.name)])));
    const ordered = analysis.problems.length === 0 ? analysis.order.map((n) => this.stepMap.get(n)!) : steps;
    return {
      entrypoint: ENTRYPOINT,
      arguments: this.params.size === 0 ? undefined : {
        parameters: this.parameters.map((p) => ({ name: p.name, value: String(p.defaultValue), description: p.description ?? `${p.type}` })),
      },
      serviceAccountName: this.props.serviceAccountName ?? runner.serviceAccountName,
      automountServiceAccountToken: false,
      executor: { serviceAccountName: runner.executorServiceAccountName },
      securityContext: restrictedPodSecurityContext({ uid: this.props.runAsUser ?? 1000 }),
      activeDeadlineSeconds: parseDuration(this.props.timeout ?? '24h'),
      ttlStrategy: { secondsAfterCompletion: parseDuration(this.props.ttlAfterCompletion ?? '168h') },
      podGC: { strategy: PodGcStrategy.ON_POD_SUCCESS },
      parallelism: this.props.parallelism,
      podMetadata: { labels: { 'app.kubernetes.io/part-of': PART_OF, 'cd4ml.io/pipeline': this.name } },
      onExit: this.exitStep ? EXIT : undefined,
      templates: [
        { name: ENTRYPOINT, dag: { tasks: ordered.map((s) => this.renderTask(s)) } },
        ...ordered.map((s) => this.renderTemplate(s)),
        ...(this.exitStep ? [{ name: EXIT, dag: { tasks: [this.renderTask(this.exitStep)] } }, this.renderTemplate(this.exitStep)] : []),
      ],
    };
  }

  private renderTask(s: Step): Record<string, unknown> {
    const params = [...s.inputs.entries()].map(([name, v]) => ({ name, value: v.expression }));
    if (s.props.cache) params.push({ name: 'cache-key', value: this.cacheKey(s) });
    const artifacts = Object.entries(s.props.inputArtifacts ?? {}).map(([name, a]) => ({ name, from: a.expression }));
    const f = s.props.fanOut?.spec;
    return {
      name: s.name,
      template: s.name,
      dependencies: s.dependencies.length ? s.dependencies.map((d) => d.name) : undefined,
      arguments: params.length || artifacts.length ? { parameters: params.length ? params : undefined, artifacts: artifacts.length ? artifacts : undefined } : undefined,
      withItems: f?.items ? [...f.items] : undefined,
      withSequence: f?.count !== undefined ? { count: String(f.count) } : undefined,
      withParam: f?.output ? f.output.expression : undefined,
      when: s.props.when?.expression,
    };
  }

  /**
   * The memoization key: step, cache version and image as a prefix, then every input value (and the fan-out item)
   * base64-encoded with `+`, `/` and `=` mapped into `[a-zA-Z0-9-]`, the only characters Argo accepts in keys. Argo
   * does not evaluate expressions in `memoize.key` (argo-workflows#6227), so the key is computed in the task's
   * arguments, where `{{=...}}` is evaluated; it uses expr-lang builtins only (`toBase64`, `replace`, `string`),
   * no sprig needed (sprig still works in Argo v4: its curation, argo-workflows#14446, was reverted in #14586). Keys grow with the inputs (a ConfigMap key
   * holds at most 253 characters): cache steps whose inputs are short values and URIs, not documents.
   */
  private cacheKey(s: Step): string {
    const image = createHash('sha256').update(s.props.image).digest('hex').slice(0, 12);
    const prefix = `${s.name}-v${s.props.cache!.version}-${image}`;
    const refs = [...s.inputs.entries()].map(([name, v]) => `'${name}=' + string(${v.exprRef})`);
    if (s.props.fanOut && ![...s.inputs.values()].includes(FanOut.ITEM)) refs.push("'item=' + string(item)");
    if (refs.length === 0) return prefix;
    const encoded = `replace(replace(replace(toBase64(${refs.join(" + '|' + ")}), '+', '-'), '/', '-'), '=', '')`;
    return `${prefix}-{{=${encoded}}}`;
  }

  private renderTemplate(s: Step): Record<string, unknown> {
    const p = s.props;
    const runner = this.runner;
    const inputNames = [...s.inputs.keys()];
    const inputParams = inputNames.map((name) => ({ name }));
    if (p.cache) inputParams.push({ name: 'cache-key' });
    const r = p.resources ?? {};
    const d = runner.stepDefaults;
    const memory = r.memory ?? d.memory;
    const memoryLimit = r.memoryLimit ?? maxQuantity(memory, d.memoryLimit);
    const requests: Record<string, string | number> = { cpu: r.cpu ?? d.cpu, memory };
    const limits: Record<string, string | number> = { memory: memoryLimit };
    if (r.ephemeralStorage) requests['ephemeral-storage'] = limits['ephemeral-storage'] = r.ephemeralStorage;
    if (r.gpu && runner.gpu) requests[runner.gpu.resourceName] = limits[runner.gpu.resourceName] = r.gpu.count;
    const env = [
      ...runner.stepEnv(),
      { name: 'MLFLOW_EXPERIMENT_NAME', value: this.experiment },
      { name: 'HOME', value: '/tmp' },
      { name: 'CD4ML_PIPELINE', value: this.name },
      { name: 'CD4ML_STEP', value: s.name },
      ...Object.entries(p.env ?? {}).map(([name, value]) => ({ name, value })),
      ...Object.entries(p.secretEnv ?? {}).map(([name, ref]) => secretEnv(name, ref.secret, ref.key)),
      // the exit handler's outcome (Argo's globals in an exit handler)
      ...(s === this.exitStep ? [{ name: 'CD4ML_PIPELINE_STATUS', value: '{{workflow.status}}' }, { name: 'CD4ML_PIPELINE_FAILURES', value: '{{workflow.failures}}' }] : []),
    ];
    const gpu = r.gpu && runner.gpu ? runner.gpu : undefined;
    const extra = optionVolumes(p);
    const place = p.placement ?? {};
    const nodeSelector = { ...(gpu ? { ...gpu.nodeSelector, ...(r.gpu?.product ? { [gpu.productLabel]: r.gpu.product } : {}) } : {}), ...(place.nodeSelector ?? {}) };
    const tolerations = [...(gpu ? gpu.tolerations : []), ...(place.tolerations ?? [])];
    const retry = p.retry;
    return {
      name: s.name,
      inputs: inputParams.length || p.inputArtifacts ? {
        parameters: inputParams.length ? inputParams : undefined,
        artifacts: p.inputArtifacts ? Object.keys(p.inputArtifacts).map((name) => ({ name, path: `/inputs/${name}` })) : undefined,
      } : undefined,
      outputs: p.outputs || p.outputArtifacts ? {
        parameters: p.outputs ? Object.keys(p.outputs).map((name) => ({ name, valueFrom: { path: `/tmp/outputs/${name}` } })) : undefined,
        artifacts: p.outputArtifacts ? p.outputArtifacts.map((name) => ({ name, path: `/tmp/artifacts/${name}` })) : undefined,
      } : undefined,
      metadata: { labels: { 'cd4ml.io/step': s.name } },
      container: {
        name: 'main',
        image: p.image,
        imagePullPolicy: 'IfNotPresent',
        command: p.command,
        args: [...(p.args ?? []), ...inputNames.flatMap((n) => [`--${n}`, `{{inputs.parameters.${n}}}`])],
        env,
        resources: { requests, limits },
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...extra.mounts],
      },
      // scratch is as large as the step's ephemeral storage (its request and limit), 2Gi when it sets none
      volumes: [{ name: 'tmp', emptyDir: { sizeLimit: r.ephemeralStorage ?? '2Gi' } }, ...extra.volumes],
      nodeSelector: Object.keys(nodeSelector).length ? nodeSelector : undefined,
      tolerations: tolerations.length ? tolerations : undefined,
      affinity: place.affinity,
      activeDeadlineSeconds: p.timeout ? parseDuration(p.timeout) : undefined,
      retryStrategy: retry ? {
        limit: String(retry.limit),
        retryPolicy: retry.on ?? RetryOn.ALWAYS,
        backoff: { duration: retry.backoff ?? '30s', factor: String(retry.factor ?? 2), maxDuration: retry.maxDuration },
      } : undefined,
      memoize: p.cache ? {
        key: '{{inputs.parameters.cache-key}}',
        maxAge: p.cache.maxAge ?? '168h',
        cache: { configMap: { name: this.cacheConfigMap } },
      } : undefined,
    };
  }
}

function argumentsOf(args: Record<string, Scalar>): Record<string, unknown> | undefined {
  const entries = Object.entries(args);
  return entries.length === 0 ? undefined : { parameters: entries.map(([name, value]) => ({ name, value: String(value) })) };
}

function maxQuantity(a: string, b: string): string {
  return Quantity.parse(a).value >= Quantity.parse(b).value ? a : b;
}

/** Whether parentheses nest and quotes close (outside quotes), so a selector cannot break out of its group. */
function balanced(expr: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (const c of expr) {
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0 && quote === undefined;
}

/** An IANA zone name as the controller's Go runtime reads it: exact, case included. */
function isTimeZone(tz: string): boolean {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone === tz || tz === 'UTC';
  } catch {
    return false;
  }
}
