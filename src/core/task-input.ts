// What a task function is given, checked before it runs. Each pipeline's task-inputs.ts holds
// one schema per task, matching the Payload its ASL state builds; the Lambda handler
// (functions/runtime/task-handler.ts) parses the event with it. A payload that does not match is
// a UsageError — the error type the machines do not retry, so their Catch records it at once —
// naming the task and each bad field.
import { z } from 'zod';
import { UsageError } from './errors.ts';

/** A database by the name of its credentials (ports/database.ts DatabaseRef). */
export const DatabaseRefSchema = z.strictObject({
  credentials: z.string().min(1),
  database: z.string().min(1).max(63).optional(),
});

/**
 * The `{Error, Cause}` a Catch hands over. Loose: a fail step must record any failure, so it
 * refuses nothing Step Functions may add.
 */
export const StepFailureSchema = z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() });

/** A Map item: the index of a batch of the plan or manifest. */
export const BatchIndexSchema = z.number().int().min(0);

/** `event` as `schema` reads it, or a UsageError naming `task` and every field that is wrong. */
export function parseTaskInput<S extends z.ZodType>(task: string, schema: S, event: unknown): z.output<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw new UsageError(
    `Task ${task} refused its input: ${problems}. Its state in state-machines/*.asl.json builds this payload; ` +
      "check that state's Parameters, or the event of an invocation made by hand.",
  );
}
