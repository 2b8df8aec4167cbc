import { describeType } from '../../lib';

/**
 * The type of a pipeline parameter or a step's small output value.
 * Argo passes every value as a string; the type is checked at synth and documented for the step's code.
 */
export enum ParameterType {
  /** Any text. */
  STRING = 'string',
  /** A number, e.g. 0.3. */
  NUMBER = 'number',
  /** A whole number, e.g. 100. */
  INTEGER = 'integer',
  /** `true` or `false`. */
  BOOLEAN = 'boolean',
}

/** What a value knows of the step that produces it (the pipeline's `Step` has both). */
type StepProducer = { readonly name: string; readonly pipeline: { readonly name: string } };

/** A plain value a parameter or input may take. */
export type Scalar = string | number | boolean;

/** Something a step input can be wired to: a pipeline parameter, another step's output, a fan-out item. */
export interface IStepValue {
  /** The Argo template expression that yields the value, e.g. `{{workflow.parameters.test_size}}`. */
  readonly expression: string;
  /** The same value inside an Argo `{{=...}}` expression, e.g. `workflow.parameters['test_size']`. */
  readonly exprRef: string;
  /**
   * The step that produces it, when it is another step's output (this is what creates an edge). Typed by what the
   * values need of a `Step`, so that this file needs nothing of the pipeline module, which imports it.
   */
  readonly producer?: StepProducer;
}

/** Checks that `value` fits `type`; returns a message when it does not. */
export function typeMismatch(type: ParameterType, value: Scalar): string | undefined {
  switch (type) {
    case ParameterType.STRING: return typeof value === 'string' ? undefined : `is ${describeType(value)}, not a string`;
    case ParameterType.NUMBER: return typeof value === 'number' && Number.isFinite(value) ? undefined : 'is not a number';
    case ParameterType.INTEGER: return typeof value === 'number' && Number.isInteger(value) ? undefined : 'is not a whole number';
    case ParameterType.BOOLEAN: return typeof value === 'boolean' ? undefined : 'is not true or false';
  }
}

/** A parameter of a pipeline: submitted with the workflow, with a typed default. */
export class PipelineParameter implements IStepValue {
  public readonly expression: string;
  public readonly exprRef: string;

  public constructor(
    /** The pipeline's name (for messages). */
    public readonly pipelineName: string,
    /** Parameter name. */
    public readonly name: string,
    /** Its type. */
    public readonly type: ParameterType,
    /** Its default. */
    public readonly defaultValue: Scalar,
    /** What it means. */
    public readonly description?: string,
  ) {
    this.expression = `{{workflow.parameters.${name}}}`;
    this.exprRef = `workflow.parameters['${name}']`;
  }
}

/** A small output value of a step (read from `/tmp/outputs/<name>` when the step ends). */
export class StepOutput implements IStepValue {
  public readonly expression: string;
  public readonly exprRef: string;

  public constructor(
    /** The step that writes it. */
    public readonly producer: StepProducer,
    /** Output name. */
    public readonly name: string,
    /** Its type. */
    public readonly type: ParameterType,
  ) {
    this.expression = `{{tasks.${producer.name}.outputs.parameters.${name}}}`;
    this.exprRef = `tasks['${producer.name}'].outputs.parameters['${name}']`;
  }
}

/** A file or directory a step writes to `/tmp/artifacts/<name>`, stored in the platform's object store. */
export class StepArtifact {
  /** The Argo expression that passes it on. */
  public readonly expression: string;

  public constructor(
    /** The step that writes it. */
    public readonly producer: StepProducer,
    /** Artifact name. */
    public readonly name: string,
  ) {
    this.expression = `{{tasks.${producer.name}.outputs.artifacts.${name}}}`;
  }
}

/** A literal input value. */
export class LiteralValue implements IStepValue {
  public readonly expression: string;
  public readonly exprRef: string;

  public constructor(public readonly value: Scalar) {
    this.expression = String(value);
    this.exprRef = JSON.stringify(String(value)).replace(/^"|"$/g, "'");
  }
}

/** How a step runs several times in parallel; a later step that depends on it waits for all of them. */
export class FanOut {
  /** The current item inside a fanned-out step: pass it to an input. */
  public static readonly ITEM: IStepValue = Object.freeze({ expression: '{{item}}', exprRef: 'item' });

  /** Once per item of a list (a hyperparameter sweep, say). */
  public static items(values: readonly Scalar[]): FanOut {
    return new FanOut({ items: [...values] });
  }

  /** N parallel workers; the item is the worker's index (0 to N-1). */
  public static workers(count: number): FanOut {
    return new FanOut({ count });
  }

  /** Once per element of a JSON list that another step writes as an output (this creates an edge). */
  public static overOutput(output: StepOutput): FanOut {
    return new FanOut({ output });
  }

  private constructor(public readonly spec: { readonly items?: readonly Scalar[]; readonly count?: number; readonly output?: StepOutput }) {}
}
