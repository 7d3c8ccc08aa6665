// Runs the very ASL files that AWS runs (state-machines/*.asl.json) with aws-local-stepfunctions,
// each Task mapped in-process to the same Lambda handler. Like Step Functions, it fails any
// state whose input or output exceeds 256 KB (DESIGN.md invariant 4).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import type { TaskContext } from '#core/task-context.ts';
import { TidemarkError } from '#core/errors.ts';
import { newRunId } from '#core/ids.ts';
import { functionHandlers } from '#functions/index.ts';
import { withTaskContext } from '#functions/runtime/context.ts';
import './promise-polyfill.ts';

export type StateMachineName = 'backup' | 'restore' | 'maintenance' | 'archive';

export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

export class PayloadTooLargeError extends TidemarkError {}

/** The failure of an execution, with the error name and message of the state that failed. */
export class ExecutionFailedError extends TidemarkError {
  constructor(
    readonly errorName: string,
    readonly causeMessage: string,
  ) {
    super(causeMessage);
  }
}

export function definitionPath(name: StateMachineName): string {
  // From src/local/ when run from source, from dist/ when run from the CLI bundle.
  const candidates = [`../../state-machines/${name}.asl.json`, `../state-machines/${name}.asl.json`].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** `${BackupPlanFunctionArn}` → the handler registered as `BackupPlan`. */
const PLACEHOLDER = /^\$\{(\w+)FunctionArn\}$/;

const PUT_EVENTS = 'arn:aws:states:::events:putEvents';
/** What the local run substitutes for `${EventBusName}`. */
export const LOCAL_EVENT_BUS = 'tidemark-local';

/**
 * Step Functions gives a Task with no TimeoutSeconds no timeout of its own (in AWS the Lambda's
 * timeout bounds it); aws-local-stepfunctions gives it 60 s, which fails a local snapshot hold
 * or a large export batch on a slow machine. Locally nothing bounds a task, so give it the
 * longest time setTimeout can wait (~24 days), well past the 1-day local snapshot window.
 */
export const LOCAL_TASK_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export async function loadDefinition(
  name: StateMachineName,
): Promise<{ definition: any; taskFunctions: Map<string, string>; eventTasks: Set<string> }> {
  const raw = (await readFile(definitionPath(name), 'utf8')).replaceAll('${EventBusName}', LOCAL_EVENT_BUS);
  const taskFunctions = new Map<string, string>();
  const eventTasks = new Set<string>();
  const definition = JSON.parse(raw);
  walkStates(definition.States, (stateName, state) => {
    const fn = state.Parameters?.FunctionName;
    if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = LOCAL_TASK_TIMEOUT_SECONDS;
    }
    if (state.Type === 'Task' && state.Resource === PUT_EVENTS) {
      eventTasks.add(stateName);
    } else if (state.Type === 'Task' && typeof fn === 'string') {
      const match = PLACEHOLDER.exec(fn);
      if (!match)
        throw new TidemarkError(
          `State ${stateName} of ${name}.asl.json names function ${fn}, not a \${<Name>FunctionArn} placeholder.`,
        );
      taskFunctions.set(stateName, match[1]!);
      state.Parameters.FunctionName = `arn:aws:lambda:us-east-1:000000000000:function:tidemark-${match[1]}`;
    }
  });
  return { definition, taskFunctions, eventTasks };
}

export function walkStates(states: Record<string, any>, visit: (name: string, state: any) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    for (const branch of state.Branches ?? []) walkStates(branch.States, visit);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) walkStates(processor.States, visit);
  }
}

export interface StateEvent {
  type: string;
  state?: string;
  /** Size of the state's input (StateEntered) or output (StateExited) as JSON, in bytes. */
  bytes?: number;
  /** That input or output as JSON (tests check what travels between states). */
  json?: string;
}

export interface PublishedEvent {
  detailType: string;
  detail: unknown;
}

export interface RunOptions {
  /** Called with every state event, for tests and progress. */
  onState?: (event: StateEvent) => void;
  /** Receives what the EventBridge PutEvents tasks publish (locally there is no bus). */
  onEvent?: (event: PublishedEvent) => void;
  /** `$$.Execution.Name`; a new run id by default, as the CLI names executions in AWS. */
  executionName?: string;
  /**
   * Runs around every task invocation, with the function's name (`BackupPlan` …): the grants
   * test (test/e2e/aws-grants.test.ts) attributes each AWS call to the function that made it.
   */
  aroundTask?: <T>(functionName: string, run: () => Promise<T>) => Promise<T>;
}

export async function runStateMachine(
  name: StateMachineName,
  input: unknown,
  ctx: TaskContext,
  options: RunOptions = {},
): Promise<any> {
  const { definition, taskFunctions, eventTasks } = await loadDefinition(name);
  const taskResourceLocalHandlers: Record<string, (input: any) => Promise<any>> = {};
  for (const stateName of eventTasks) {
    taskResourceLocalHandlers[stateName] = async (request: { Entries: { DetailType: string; Detail: unknown }[] }) => {
      for (const entry of request.Entries) options.onEvent?.({ detailType: entry.DetailType, detail: entry.Detail });
      return { Entries: request.Entries.map((_, i) => ({ EventId: `local-${i}` })), FailedEntryCount: 0 };
    };
  }
  for (const [stateName, fn] of taskFunctions) {
    const handler = functionHandlers[fn];
    if (!handler)
      throw new TidemarkError(
        `State ${stateName} of ${name}.asl.json needs function ${fn}, which functions/index.ts does not define.`,
      );
    taskResourceLocalHandlers[stateName] = async (request: { Payload: unknown }) => {
      checkPayload(`${stateName} input`, request.Payload);
      const invoke = () => withTaskContext(ctx, () => handler(request.Payload));
      const output = await (options.aroundTask ? options.aroundTask(fn, invoke) : invoke());
      checkPayload(`${stateName} output`, output);
      return { Payload: output };
    };
  }
  // The ASL files are validated by asl-validator in the tests; validating again costs ~0.6 s a run.
  const machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
  // Step Functions names every execution; the ASL uses the name as the restore id.
  const executionName = options.executionName ?? newRunId();
  const context = {
    Execution: {
      Id: `arn:aws:states:local:000000000000:execution:tidemark-${name}:${executionName}`,
      Name: executionName,
      Input: input as any,
      StartTime: new Date().toISOString(),
    },
  };
  const execution = machine.run(input as any, { overrides: { taskResourceLocalHandlers }, context });
  let oversized: string | undefined;
  const watch = (async () => {
    for await (const event of execution.eventLogs) {
      const e = event as any;
      const sized = e.state && (e.type === 'StateEntered' || e.type === 'StateExited');
      const json = sized
        ? JSON.stringify((e.type === 'StateEntered' ? e.state.input : e.state.output) ?? null)
        : undefined;
      const size = json === undefined ? undefined : Buffer.byteLength(json);
      options.onState?.({ type: e.type, state: e.state?.name, bytes: size, json });
      if (size !== undefined) {
        if (size > PAYLOAD_LIMIT_BYTES && !oversized) {
          oversized = `State ${e.state.name} ${e.type === 'StateEntered' ? 'input' : 'output'} is ${size} bytes, over the 256 KB Step Functions limit.`;
          execution.abort();
        }
      }
    }
  })();
  try {
    const result = await execution.result;
    return result;
  } catch (err) {
    if (oversized) throw new PayloadTooLargeError(oversized);
    throw toExecutionError(err);
  } finally {
    await watch.catch(() => undefined);
  }
}

function checkPayload(what: string, payload: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(payload ?? null));
  if (size > PAYLOAD_LIMIT_BYTES) {
    const error = new PayloadTooLargeError(`${what} is ${size} bytes, over the 256 KB Step Functions limit.`);
    error.name = 'States.DataLimitExceeded';
    throw error;
  }
}

/** The library wraps the failure in ExecutionError; its cause carries the Fail state's Error and Cause. */
function toExecutionError(err: unknown): ExecutionFailedError {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } };
  const failure = e.cause ?? e;
  return new ExecutionFailedError(failure.name ?? 'Error', failure.message ?? String(err));
}
