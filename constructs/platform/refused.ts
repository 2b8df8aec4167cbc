/**
 * Internal (not exported from the package): what a construct refused and deferred to the synth's report, for the
 * constructs built on it to report nothing more about it.
 */

/** Pipeline runners whose Platform's `gpu` prop was refused: their GPU steps are not reported again. */
export const GPU_REFUSED = new WeakSet<object>();
