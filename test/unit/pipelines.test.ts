// The pipeline files (src/core/pipelines/) read like the ASL: each Task state that runs a
// function is listed once, in order, with the function the registry gives it, and the core
// function that function's handler calls.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { functionEntries } from '#functions/index.ts';
import { loadDefinition, walkStates, type StateMachineName } from '#local/state-machine-runner.ts';
import { BACKUP_PIPELINE } from '#core/pipelines/backup.ts';
import { RESTORE_PIPELINE } from '#core/pipelines/restore.ts';
import { MAINTENANCE_PIPELINE } from '#core/pipelines/maintenance.ts';
import { ARCHIVE_PIPELINE } from '#core/pipelines/archive.ts';
import type { PipelineStep } from '#core/pipelines/step.ts';

const PIPELINES: Record<StateMachineName, PipelineStep[]> = {
  backup: BACKUP_PIPELINE,
  restore: RESTORE_PIPELINE,
  maintenance: MAINTENANCE_PIPELINE,
  archive: ARCHIVE_PIPELINE,
};

describe('the pipeline files', () => {
  for (const [machine, pipeline] of Object.entries(PIPELINES) as [StateMachineName, PipelineStep[]][]) {
    it(`${machine}: the same function states as ${machine}.asl.json, in order, each calling the core function listed`, async () => {
      const { taskFunctions } = await loadDefinition(machine);
      const asl: string[] = [];
      walkStates(
        (await loadDefinition(machine)).definition.States,
        (name) => taskFunctions.has(name) && asl.push(`${name} → ${taskFunctions.get(name)}`),
      );
      expect(pipeline.map((s) => `${s.state} → ${s.task}`)).toEqual(asl);
      for (const s of pipeline) {
        const handler = await readFile(new URL(`../../functions/${functionEntries[s.task]}`, import.meta.url), 'utf8');
        expect(handler, `${s.task} runs ${s.run.name}`).toMatch(
          new RegExp(`taskHandler\\('${s.task}', ${s.run.name}\\)`),
        );
      }
    });
  }
});
