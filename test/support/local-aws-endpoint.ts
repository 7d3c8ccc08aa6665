// A small stand-in for AWS on 127.0.0.1 that answers the requests the SDK really sends, on the
// real wire protocols, so the CLI's cloud mode runs unmodified in a child process against it:
//   - Step Functions (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Op>`): StartExecution,
//     DescribeExecution, GetExecutionHistory (paging, reverseOrder, includeExecutionData);
//   - CloudFormation (awsQuery, `Action=DescribeStacks`, XML answers and errors).
// A started execution runs the real ASL (state-machines/*.asl.json) through our local runner,
// with the TaskContext the test passes — the endpoint plays the part of Lambda too.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { TaskContext } from '#core/task-context.ts';
import {
  ExecutionFailedError,
  loadDefinition,
  runStateMachine,
  walkStates,
  type StateEvent,
  type StateMachineName,
} from '#local/state-machine-runner.ts';

export interface LocalAwsOptions {
  /** Stack name → its CloudFormation outputs. */
  stacks: Record<string, Record<string, string>>;
  /** State machine ARN → the ASL file it runs. */
  stateMachines: Record<string, StateMachineName>;
  /** Ports of every task; its credentials play Secrets Manager (secret ARN → URL). */
  context: TaskContext;
}

export interface LocalAwsEndpoint {
  url: string;
  /** Every request's operation, in order (`StartExecution`, `DescribeStacks` …). */
  readonly requests: string[];
  /** Waits for running executions to end, then stops the server. */
  close(): Promise<void>;
}

type Details = Record<string, unknown>;
interface HistoryEvent extends Details {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
}

interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  events: HistoryEvent[];
  done: Promise<void>;
}

class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const now = () => Date.now() / 1000;

export async function startLocalAws(options: LocalAwsOptions): Promise<LocalAwsEndpoint> {
  const executions = new Map<string, Execution>();
  const requests: string[] = [];

  const stepFunctions: Record<string, (body: any) => Promise<unknown> | unknown> = {
    async StartExecution(body: { stateMachineArn: string; name?: string; input?: string }) {
      const machine = options.stateMachines[body.stateMachineArn];
      if (!machine)
        throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${body.stateMachineArn}'`);
      const name = body.name ?? randomUUID();
      const input = body.input ?? '{}';
      let parsed: unknown;
      try {
        parsed = JSON.parse(input);
      } catch {
        throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
      }
      const executionArn = `${body.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = executions.get(executionArn);
      if (existing) {
        // Standard workflows: the same name and input is an idempotent repeat.
        if (existing.input === input) return { executionArn, startDate: existing.startDate };
        throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const execution = await execute(
        machine,
        { executionArn, stateMachineArn: body.stateMachineArn, name, input },
        parsed,
      );
      executions.set(executionArn, execution);
      return { executionArn, startDate: execution.startDate };
    },
    DescribeExecution(body: { executionArn: string }) {
      const e = find(body.executionArn);
      return {
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        stopDate: e.stopDate,
        input: e.input,
        inputDetails: { included: true },
        ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
        ...(e.error !== undefined ? { error: e.error, cause: e.cause } : {}),
      };
    },
    GetExecutionHistory(body: {
      executionArn: string;
      maxResults?: number;
      nextToken?: string;
      reverseOrder?: boolean;
      includeExecutionData?: boolean;
    }) {
      const e = find(body.executionArn);
      const pageSize = Math.min(Math.max(body.maxResults || 100, 1), 1000);
      const ordered = body.reverseOrder ? [...e.events].reverse() : e.events;
      const start = body.nextToken ? Number(body.nextToken) : 0;
      if (!Number.isInteger(start) || start < 0 || start > ordered.length)
        throw new AwsError('InvalidToken', 'Invalid Token');
      const page = ordered
        .slice(start, start + pageSize)
        .map((event) => (body.includeExecutionData === false ? withoutData(event) : event));
      return { events: page, ...(start + pageSize < ordered.length ? { nextToken: String(start + pageSize) } : {}) };
    },
  };

  function find(executionArn: string): Execution {
    const e = executions.get(executionArn);
    if (!e) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return e;
  }

  /** Starts the run and returns at once, like StartExecution; the history grows as it goes. */
  async function execute(
    machine: StateMachineName,
    ids: Pick<Execution, 'executionArn' | 'stateMachineArn' | 'name' | 'input'>,
    input: unknown,
  ): Promise<Execution> {
    const stateTypes = new Map<string, string>();
    walkStates((await loadDefinition(machine)).definition.States, (name, state) => stateTypes.set(name, state.Type));
    const execution: Execution = { ...ids, status: 'RUNNING', startDate: now(), events: [], done: Promise.resolve() };
    const record = (type: string, details: Details = {}) => {
      const id = execution.events.length + 1;
      execution.events.push({ id, previousEventId: id - 1, timestamp: now(), type, ...details });
    };
    record('ExecutionStarted', {
      executionStartedEventDetails: { input: ids.input, inputDetails: { included: true } },
    });
    const openMaps: string[] = [];
    const onState = (event: StateEvent) => {
      const type = event.state ? stateTypes.get(event.state) : undefined;
      if (type && (event.type === 'StateEntered' || event.type === 'StateExited')) {
        const entered = event.type === 'StateEntered';
        if (type === 'Map' && entered) openMaps.push(event.state!);
        if (type === 'Map' && !entered) openMaps.splice(openMaps.lastIndexOf(event.state!), 1);
        if (entered) record(`${type}StateEntered`, { stateEnteredEventDetails: { name: event.state } });
        else if (type !== 'Fail') record(`${type}StateExited`, { stateExitedEventDetails: { name: event.state } });
      } else if (event.type.startsWith('MapIteration')) {
        // The runner reports neither the Map nor the index; the innermost open Map is the one.
        const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
        record(event.type, { [key]: { name: openMaps[openMaps.length - 1] } });
      }
    };
    execution.done = runStateMachine(machine, input, options.context, { onState, executionName: ids.name })
      .then(
        (output) => {
          execution.output = JSON.stringify(output ?? null);
          execution.status = 'SUCCEEDED';
          record('ExecutionSucceeded', {
            executionSucceededEventDetails: { output: execution.output, outputDetails: { included: true } },
          });
        },
        (err) => {
          const failure =
            err instanceof ExecutionFailedError
              ? { name: err.errorName, message: err.causeMessage }
              : { name: (err as Error).name, message: (err as Error).message };
          // What Lambda puts in a task failure's Cause, which our Fail states pass on.
          execution.cause = JSON.stringify({ errorType: failure.name, errorMessage: failure.message, trace: [] });
          execution.error = failure.name;
          execution.status = 'FAILED';
          record('ExecutionFailed', {
            executionFailedEventDetails: { error: execution.error, cause: execution.cause },
          });
        },
      )
      .finally(() => {
        execution.stopDate = now();
      });
    return execution;
  }

  const server = createServer((req, res) => {
    void answer(req, res).catch((err) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    });
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('AWSStepFunctions.')) {
      const op = target.slice('AWSStepFunctions.'.length);
      requests.push(op);
      const json = (status: number, value: unknown) =>
        res
          .writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() })
          .end(JSON.stringify(value));
      try {
        const handler = stepFunctions[op];
        if (!handler) throw new AwsError('UnknownOperationException', `${op} is not supported by the local endpoint`);
        json(200, await handler(JSON.parse(body || '{}')));
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        json(err.status, { __type: err.code, message: err.message });
      }
      return;
    }
    const form = new URLSearchParams(body);
    const action = form.get('Action') ?? '(none)';
    requests.push(action);
    const xml = (status: number, text: string): void =>
      void res.writeHead(status, { 'content-type': 'text/xml' }).end(text);
    if (action !== 'DescribeStacks')
      return xml(400, queryError('InvalidAction', `${action} is not supported by the local endpoint`));
    const name = form.get('StackName');
    const names = name ? [name] : Object.keys(options.stacks);
    if (name && !options.stacks[name])
      return xml(400, queryError('ValidationError', `Stack with id ${name} does not exist`));
    xml(200, describeStacks(names.map((n) => ({ name: n, outputs: options.stacks[n]! }))));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      await Promise.allSettled([...executions.values()].map((e) => e.done));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** History without inputs and outputs, as `includeExecutionData: false` returns it. */
function withoutData(event: HistoryEvent): HistoryEvent {
  const copy: HistoryEvent = { ...event };
  for (const [key, value] of Object.entries(copy)) {
    if (key.endsWith('EventDetails') && value && typeof value === 'object') {
      const { input, output, ...rest } = value as Details;
      copy[key] = rest;
    }
  }
  return copy;
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const CFN_NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

function describeStacks(stacks: { name: string; outputs: Record<string, string> }[]): string {
  const members = stacks.map(({ name, outputs }) => {
    const out = Object.entries(outputs).map(
      ([k, v]) => `<member><OutputKey>${escapeXml(k)}</OutputKey><OutputValue>${escapeXml(v)}</OutputValue></member>`,
    );
    return (
      `<member><StackName>${escapeXml(name)}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${escapeXml(name)}/${randomUUID()}</StackId>` +
      `<CreationTime>2025-01-01T00:00:00.000Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${out.join('')}</Outputs></member>`
    );
  });
  return `<DescribeStacksResponse xmlns="${CFN_NS}"><DescribeStacksResult><Stacks>${members.join('')}</Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

function queryError(code: string, message: string): string {
  return `<ErrorResponse xmlns="${CFN_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}
