// The deployed state machines: the very ASL files the local runner executes, with every
// placeholder filled by this stack's functions and bus, and roles limited to them.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { definitionPath, walkStates } from '../../src/local/state-machine-runner.ts';
import { aslPath } from '../../infra/constructs/state-machines.ts';
import { logicalIdOf, render, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

const MACHINES = [
  ['backup', 'Backup'],
  ['restore', 'Restore'],
] as const;

let s: Synthesized;
let bus: string;
const machine = (id: string) =>
  s.template.toJSON().Resources[logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', `StateMachines${id}`)];
/** Task functions of the stack, by logical id (not CDK's custom-resource provider). */
const functionIds = () =>
  new Set(Object.keys(s.template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('Tasks')));

/** What CloudFormation does at deploy time, with the template's own substitutions. */
function deployedDefinition(name: string, id: string): any {
  let text = readFileSync(aslPath(name as 'backup'), 'utf8');
  for (const [placeholder, value] of Object.entries(
    machine(id).Properties.DefinitionSubstitutions as Record<string, unknown>,
  )) {
    const rendered = render(value);
    // A function ARN, as CloudFormation would render it; the bus, by name.
    const concrete = rendered.endsWith('.Arn>')
      ? `arn:aws:lambda:eu-west-1:123456789012:function:${rendered.slice(1, -5)}`
      : rendered.slice(1, -1);
    text = text.replaceAll(`\${${placeholder}}`, concrete);
  }
  return JSON.parse(text);
}

beforeAll(() => {
  s = synthesize();
  bus = logicalIdOf(s.template, 'AWS::Events::EventBus', 'StateMachinesEvents');
});

describe.each(MACHINES)('the %s state machine', (name, id) => {
  it('deploys state-machines/<name>.asl.json, the file the local runner executes', () => {
    // GIVEN the path the construct reads and the local runner's
    expect(aslPath(name)).toBe(definitionPath(name));
    // THEN the definition is an S3 asset whose staged bytes are that file's bytes
    const { Key } = machine(id).Properties.DefinitionS3Location;
    const assets = JSON.parse(readFileSync(join(s.outdir, `${s.stack.stackName}.assets.json`), 'utf8'));
    const asset = assets.files[Key.replace(/\.json$/, '')];
    expect(asset.source.packaging).toBe('file');
    expect(readFileSync(join(s.outdir, asset.source.path), 'utf8')).toBe(readFileSync(definitionPath(name), 'utf8'));
  });

  it('substitutes every placeholder of the file, and nothing else', () => {
    const placeholders = new Set([...readFileSync(aslPath(name), 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!));
    expect(Object.keys(machine(id).Properties.DefinitionSubstitutions).sort()).toEqual([...placeholders].sort());
    expect(machine(id).Properties.DefinitionSubstitutions.EventBusName).toEqual({ Ref: bus });
  });

  it('is valid ASL once substituted, and names only functions of this stack', () => {
    // WHEN the template's substitutions are applied to the file
    const definition = deployedDefinition(name, id);
    // THEN it validates, and every Lambda task targets a function defined in the stack
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
    const defined = functionIds();
    let tasks = 0;
    walkStates(definition.States, (state: string, body: any) => {
      if (body.Type !== 'Task') return;
      tasks++;
      if (body.Resource === 'arn:aws:states:::events:putEvents') {
        for (const entry of body.Parameters.Entries) expect(entry.EventBusName, state).toBe(bus);
        return;
      }
      const fn = /^arn:aws:lambda:eu-west-1:123456789012:function:(\w+)$/.exec(body.Parameters.FunctionName)?.[1];
      expect(defined.has(fn!), `${state}: ${body.Parameters.FunctionName}`).toBe(true);
    });
    expect(tasks).toBeGreaterThan(5);
  });

  it('is a Standard machine that logs every transition without payloads, traced by X-Ray', () => {
    const logs = logicalIdOf(s.template, 'AWS::Logs::LogGroup', `StateMachines${id}Logs`);
    expect(machine(id).Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logs, 'Arn'] } } }],
      },
      TracingConfiguration: { Enabled: true },
    });
    expect(s.template.toJSON().Resources[logs]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { RetentionInDays: 90 },
    });
  });

  it('may invoke exactly the functions its ASL names, unqualified, and put events only on the bus', () => {
    const role = render(machine(id).Properties.RoleArn).slice(1, -5);
    const statements = statementsOfRole(s.template, role);
    const substituted = Object.entries(machine(id).Properties.DefinitionSubstitutions as Record<string, unknown>)
      .filter(([k]) => k.endsWith('FunctionArn'))
      .map(([, v]) => render(v))
      .sort();
    expect(statements.filter((x) => x.Action.some((a) => a.startsWith('lambda:')))).toEqual([
      { Sid: 'InvokeTasks', Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: substituted },
    ]);
    expect(statements.filter((x) => x.Action.some((a) => a.startsWith('events:')))).toEqual([
      { Sid: 'PublishEvents', Effect: 'Allow', Action: ['events:PutEvents'], Resource: [`<${bus}.Arn>`] },
    ]);
    // The machine's other statement is CDK's log delivery + X-Ray (on "*", see iam.test.ts).
    expect(statements.flatMap((x) => x.Action).filter((a) => !/^(lambda|events|logs|xray):/.test(a))).toEqual([]);
  });
});

describe('the two machines', () => {
  it('share no function', () => {
    const fns = (id: string) =>
      Object.keys(machine(id).Properties.DefinitionSubstitutions).filter((k) => k.endsWith('FunctionArn'));
    const backup = fns('Backup');
    expect(backup.every((f) => f.startsWith('Backup'))).toBe(true);
    expect(fns('Restore').every((f) => f.startsWith('Restore'))).toBe(true);
    expect(fns('Maintenance').every((f) => f.startsWith('Maintenance'))).toBe(true);
    expect(fns('Archive')).toEqual(['PitrArchiveFunctionArn']);
    expect(backup.length + fns('Restore').length + fns('Maintenance').length + 1).toBe(functionIds().size);
  });

  it('publish on one custom event bus, named in the EventBusName output', () => {
    s.template.resourceCountIs('AWS::Events::EventBus', 1);
    s.template.hasOutput('EventBusName', { Value: { Ref: bus } });
  });
});
