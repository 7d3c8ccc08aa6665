// Starts a state machine execution and follows it to its end: DescribeExecution for the status,
// GetExecutionHistory (newest first, only the new pages) for progress.
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { redactSecrets } from '#core/errors.ts';
import { ExecutionFailedError } from '#local/state-machine-runner.ts';
import { emptyProgress, foldHistory, type RunProgress } from './history.ts';
import { StackError } from './stack.ts';
import { sleep } from '#core/retry.ts';

export interface StartedExecution {
  executionArn: string;
  startDate: Date;
}

/** Starts one execution. `name` is the run id when the caller knows it (execution names must be unique for 90 days). */
export async function startExecution(
  client: SFNClient,
  stateMachineArn: string,
  name: string,
  input: unknown,
): Promise<StartedExecution> {
  try {
    const out = await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return { executionArn: out.executionArn!, startDate: out.startDate ?? new Date() };
  } catch (err) {
    const e = err as Error;
    if (e.name === 'StateMachineDoesNotExist') {
      throw new StackError(
        `State machine ${stateMachineArn} does not exist: the stack's outputs name a machine that is gone. Redeploy the stack.`,
        { cause: err },
      );
    }
    throw err;
  }
}

export interface FollowOptions {
  /** Called after every poll with the progress read from the history; omit to skip the history. */
  onProgress?: (progress: RunProgress) => void;
  intervalMs?: number;
}

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** Polls until the execution ends; returns its description when it succeeded, throws ExecutionFailedError otherwise. */
export async function followExecution(
  client: SFNClient,
  executionArn: string,
  options: FollowOptions = {},
): Promise<DescribeExecutionCommandOutput> {
  const progress = emptyProgress();
  for (;;) {
    const execution = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (options.onProgress) {
      foldHistory(progress, await newEvents(client, executionArn, progress.lastEventId));
      options.onProgress(progress);
    }
    if (ENDED.has(execution.status ?? '')) {
      if (execution.status === 'SUCCEEDED') return execution;
      throw executionFailure(execution);
    }
    await sleep(options.intervalMs ?? 2000);
  }
}

/** Events with id > `after`, oldest first. Reads newest first so each poll costs only the new pages. */
async function newEvents(client: SFNClient, executionArn: string, after: number): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: 1000,
        includeExecutionData: false,
        nextToken,
      }),
    );
    for (const event of page.events ?? []) {
      if ((event.id ?? 0) <= after) return events.reverse();
      events.push(event);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return events.reverse();
}

/**
 * Our Fail states carry the failing task's error name and cause. In AWS a Lambda error's cause
 * is the JSON `{"errorType","errorMessage","trace"}`; the message is what the user needs.
 */
export function executionFailure(execution: {
  status?: string;
  error?: string;
  cause?: string;
  name?: string;
}): ExecutionFailedError {
  const status = execution.status ?? 'FAILED';
  if (status === 'TIMED_OUT')
    return new ExecutionFailedError('States.Timeout', `Execution ${execution.name} timed out.`);
  if (status === 'ABORTED')
    return new ExecutionFailedError(
      'ExecutionAborted',
      `Execution ${execution.name} was stopped (aborted) before it ended.`,
    );
  const error = execution.error || 'Error';
  let message = execution.cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown; errorType?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause is already the message.
  }
  if (!message) message = `Execution ${execution.name} failed with ${error}, without a cause.`;
  return new ExecutionFailedError(error, redactSecrets(message));
}
