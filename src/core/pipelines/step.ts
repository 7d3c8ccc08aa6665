// A state of a state machine, as the pipeline files describe it: the ASL state, the task
// function (functions/index.ts) that runs it, the core function it calls, and what it does.
export interface PipelineStep {
  /** The ASL state name. */
  state: string;
  /** The registry name of its Lambda task function. */
  task: string;
  /** The core function the task calls. */
  run: (input: any, ctx: any) => Promise<unknown>;
  does: string;
}

export const step = (state: string, task: string, run: PipelineStep['run'], does: string): PipelineStep => ({
  state,
  task,
  run,
  does,
});
