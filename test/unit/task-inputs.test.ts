// Every task parses its event with a schema (issue 12 item 1): the registry carries it, the
// handler uses that very schema, its fields are the ones the ASL states build, and a malformed
// event is refused naming the task and the field, before the task touches any port.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ZodObject, ZodOptional, ZodType } from 'zod';
import { TASKS } from '#functions/index.ts';
import { withTaskContext } from '#functions/runtime/context.ts';
import type { TaskContext } from '#core/task-context.ts';

/** A context that fails the test if a task reaches it. */
const untouchable = new Proxy({} as TaskContext, {
  get(_, name) {
    throw new Error(`the task used ctx.${String(name)} before its input was checked`);
  },
});

interface FunctionState {
  machine: string;
  state: string;
  task: string;
  /** The payload's field names, or null when it is the execution input itself (`Payload.$: "$"` at the top). */
  fields: string[] | null;
}

/** Each Task state that invokes a function, with the fields of the payload it builds. */
async function functionStates(): Promise<FunctionState[]> {
  const found: FunctionState[] = [];
  const fieldNames = (o: Record<string, unknown>) => Object.keys(o).map((k) => k.replace(/\.\$$/, ''));
  const walk = (machine: string, states: Record<string, any>, itemSelector: Record<string, unknown> | null) => {
    for (const [state, s] of Object.entries(states)) {
      const fn = /^\$\{(\w+)FunctionArn\}$/.exec(s.Parameters?.FunctionName ?? '')?.[1];
      if (s.Type === 'Task' && fn) {
        const payload = s.Parameters.Payload;
        const fields = payload ? fieldNames(payload) : itemSelector ? fieldNames(itemSelector) : null;
        found.push({ machine, state, task: fn, fields });
      }
      for (const branch of s.Branches ?? []) walk(machine, branch.States, itemSelector);
      if (s.ItemProcessor) walk(machine, s.ItemProcessor.States, s.ItemSelector ?? null);
    }
  };
  const dir = new URL('../../state-machines/', import.meta.url);
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.asl.json'))) {
    const machine = file.replace('.asl.json', '');
    const text = await readFile(new URL(file, dir), 'utf8');
    walk(machine, JSON.parse(text).States, null);
  }
  return found;
}

describe('task input schemas', () => {
  it('every registry entry carries a schema, the one its handler parses with', () => {
    for (const [name, task] of Object.entries(TASKS)) {
      expect(task.input, name).toBeInstanceOf(ZodType);
      expect((task.handler as { input?: unknown }).input, name).toBe(task.input);
    }
  });

  it('each schema has exactly the fields the ASL states that invoke its task build; others are optional', async () => {
    const states = await functionStates();
    expect(new Set(states.map((s) => s.task))).toEqual(new Set(Object.keys(TASKS)));
    for (const [name, task] of Object.entries(TASKS)) {
      expect(task.input, name).toBeInstanceOf(ZodObject);
      const shape = (task.input as ZodObject).shape;
      const built = states.filter((s) => s.task === name && s.fields);
      // A task given the execution input whole (StartBackup, Archive): its run-input builder and
      // schema say what it takes; the ASL names no fields.
      if (built.length === 0) {
        expect(
          states.some((s) => s.task === name && s.fields === null),
          name,
        ).toBe(true);
        continue;
      }
      for (const s of built)
        expect(Object.keys(shape), `${s.machine} ${s.state}`).toEqual(expect.arrayContaining(s.fields!));
      const alwaysBuilt = Object.keys(shape).filter((f) => built.every((s) => s.fields!.includes(f)));
      const sometimesAbsent = Object.keys(shape).filter((f) => !alwaysBuilt.includes(f));
      for (const f of sometimesAbsent) expect(shape[f], `${name}.${f}`).toBeInstanceOf(ZodOptional);
    }
  });

  it('a malformed event is refused as a UsageError naming the task and the field, before any port is used', async () => {
    for (const [name, task] of Object.entries(TASKS)) {
      const refused: Error = await withTaskContext<unknown>(untouchable, () => task.handler({ unexpected: 1 })).then(
        () => new Error(`${name} accepted a malformed event`),
        (e: Error) => e,
      );
      expect(refused, name).toBeInstanceOf(Error);
      expect(refused.name, name).toBe('UsageError');
      expect(refused.message, name).toContain(`Task ${name} refused its input`);
      expect(refused.message, name).toContain('"unexpected"');
    }
    const plan = () =>
      TASKS.BackupPlan.handler({
        backupId: 'b1',
        source: { credentials: 'source' },
        snapshot: { time: '2026-12-07T00:00:00Z', lsn: null },
      });
    await expect(withTaskContext(untouchable, plan)).rejects.toThrow(
      /^Task BackupPlan refused its input: snapshot\.snapshotId: .*expected string/,
    );
    const load = () =>
      TASKS.RestoreLoadBatch.handler({
        restoreId: 'r1',
        backupId: 'b1',
        target: { credentials: 'target' },
        batch: 'first',
      });
    await expect(withTaskContext(untouchable, load)).rejects.toThrow(/RestoreLoadBatch.*batch: .*expected number/);
  });
});
