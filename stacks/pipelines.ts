import { Construct } from 'constructs';
import { FanOut, ParameterType, Pipeline, PipelineParameter, PipelineRunner, RetryOn, Step } from '../index';

/** Where the example step code runs: the image built from `examples/`. */
export interface ExamplePipelineProps {
  /** The runner to run in. */
  readonly runner: PipelineRunner;
  /** The examples image (built from `examples/Dockerfile`), pinned. */
  readonly image: string;
  /** The construct id (the pipeline keeps its name). @default - the pipeline's name */
  readonly id?: string;
  /** Its schedule and event triggers. `false` in a pipeline domain, whose runs come from its deliveries. @default true */
  readonly triggers?: boolean;
}

/** The seed's prepare_data step, shared by both pipelines: cached for a day (so, per Argo, without retries). */
function prepareData(pipeline: Pipeline, image: string, testSize: PipelineParameter): Step {
  return pipeline.addStep('prepare-data', {
    image,
    command: ['python', '-m', 'cd4ml_examples.prepare_data'],
    inputs: { test_size: testSize },
    outputs: { data_uri: ParameterType.STRING },
    cache: { version: '1', maxAge: '24h' },
    resources: { cpu: '250m', memory: '512Mi' },
  });
}

/**
 * The training seed's pipeline: prepare_data -> train_model -> deploy_model, with test_size, n_estimators and
 * min_auc, nightly on a schedule, and on new data or a degraded model through events.
 */
export function breastCancerPipeline(scope: Construct, props: ExamplePipelineProps): Pipeline {
  const pipeline = new Pipeline(scope, props.id ?? 'breast-cancer', {
    name: 'breast-cancer',
    runner: props.runner,
    description: 'Random forest on the breast-cancer data set: prepare, train and register, deploy (the training seed pipeline)',
    experiment: 'breast-cancer',
  });
  const testSize = pipeline.addParameter('test_size', { type: ParameterType.NUMBER, default: 0.3, description: 'share of rows held out' });
  const nEstimators = pipeline.addParameter('n_estimators', { type: ParameterType.INTEGER, default: 100, description: 'trees in the forest' });
  const minAuc = pipeline.addParameter('min_auc', { type: ParameterType.NUMBER, default: 0.95, description: 'least ROC AUC to deploy' });

  const prepare = prepareData(pipeline, props.image, testSize);
  const train = pipeline.addStep('train-model', {
    image: props.image,
    command: ['python', '-m', 'cd4ml_examples.train_model'],
    inputs: { data_uri: prepare.output('data_uri'), n_estimators: nEstimators, min_auc: minAuc, register: true },
    outputs: { run_id: ParameterType.STRING, model_uri: ParameterType.STRING, roc_auc: ParameterType.NUMBER, model_name: ParameterType.STRING, model_version: ParameterType.STRING },
    resources: { cpu: '1', memory: '1Gi', memoryLimit: '2Gi' },
    timeout: '1h',
  });
  pipeline.addStep('deploy-model', {
    image: props.image,
    command: ['python', '-m', 'cd4ml_examples.deploy_model'],
    inputs: { model_name: train.output('model_name'), model_version: train.output('model_version'), alias: 'champion' },
    outputs: { endpoint_uri: ParameterType.STRING },
    retry: { limit: 3, on: RetryOn.ALWAYS, backoff: '10s' },
  });

  if (props.triggers === false) return pipeline;
  pipeline.addSchedule('nightly', { cron: '0 3 * * *', timezone: 'Europe/Berlin' });
  // New training data: a MinIO bucket notification (payload: EventName, Key = "<bucket>/<object>") for uploads under
  // data/incoming/, or any uploader posting the same. prepare_data writes under data/prepared/, so runs never trigger runs.
  pipeline.addEventTrigger('new-data', { selector: 'payload.EventName startsWith "s3:ObjectCreated" && payload.Key startsWith "data/incoming/"' });
  // A degraded model: a monitor posts an event with the min_auc the retrained model must reach.
  pipeline.addEventTrigger('model-degraded', { arguments: { min_auc: 'payload.min_auc' } });
  return pipeline;
}

/**
 * The GPU variant: a hyperparameter sweep fanned out over n_estimators, one GPU per candidate, joined by a step
 * that registers the best candidate, then deployed. Needs GPU scheduling on the runner. It shows how GPU steps are
 * scheduled (requests, node selector, tolerations, quota); the example's random forest itself runs on the CPU.
 */
export function breastCancerGpuSweepPipeline(scope: Construct, props: ExamplePipelineProps): Pipeline {
  const pipeline = new Pipeline(scope, props.id ?? 'breast-cancer-gpu-sweep', {
    name: 'breast-cancer-gpu-sweep',
    runner: props.runner,
    description: 'Hyperparameter sweep on GPU nodes: one candidate per n_estimators value, the best one registered and deployed',
    experiment: 'breast-cancer',
    // as many candidates at once as the namespace's GPU quota holds (one GPU each); the rest wait their turn
    parallelism: Math.max(1, props.runner.quota.gpus),
  });
  const testSize = pipeline.addParameter('test_size', { type: ParameterType.NUMBER, default: 0.3 });
  const minAuc = pipeline.addParameter('min_auc', { type: ParameterType.NUMBER, default: 0.95 });
  const prepare = prepareData(pipeline, props.image, testSize);
  const candidates = pipeline.addStep('train-candidate', {
    image: props.image,
    command: ['python', '-m', 'cd4ml_examples.train_model'],
    inputs: { data_uri: prepare.output('data_uri'), n_estimators: FanOut.ITEM, min_auc: 0, register: false },
    outputs: { run_id: ParameterType.STRING, model_uri: ParameterType.STRING, roc_auc: ParameterType.NUMBER, model_name: ParameterType.STRING, model_version: ParameterType.STRING },
    fanOut: FanOut.items([50, 100, 200, 400]),
    resources: { cpu: '1', memory: '2Gi', memoryLimit: '4Gi', gpu: { count: 1 } },
    retry: { limit: 2, on: RetryOn.ERROR },
    timeout: '2h',
  });
  const best = pipeline.addStep('select-best', {
    image: props.image,
    command: ['python', '-m', 'cd4ml_examples.select_best'],
    // The output of a fanned-out step is the JSON list of every candidate's value, in item order.
    inputs: { run_ids: candidates.output('run_id'), model_uris: candidates.output('model_uri'), min_auc: minAuc },
    outputs: { model_name: ParameterType.STRING, model_version: ParameterType.STRING },
  });
  pipeline.addStep('deploy-model', {
    image: props.image,
    command: ['python', '-m', 'cd4ml_examples.deploy_model'],
    inputs: { model_name: best.output('model_name'), model_version: best.output('model_version'), alias: 'champion' },
    outputs: { endpoint_uri: ParameterType.STRING },
  });
  return pipeline;
}
