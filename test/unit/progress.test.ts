// The progress display without a terminal: a table counts as done after its last unit of work
// (export task, chunk or layer), empty tables count from the start, and each phase ends with one
// line. Captures stderr, where the display writes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgress } from '#cli/progress.ts';

let lines: string[];
const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');

beforeEach(() => {
  lines = [];
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
  else delete (process.stderr as { isTTY?: boolean }).isTTY;
});

describe('progress display', () => {
  it('counts a table once, after its last unit; empty tables are done from the start', () => {
    const progress = createProgress('backup', true);
    progress.onEvent({ phase: 'schema' });
    progress.onEvent({
      phase: 'export',
      expected: { bytes: 1000, unitsPerTable: { 'public.a': 3, 'public.b': 1, 'public.empty': 0 } },
    });
    progress.onEvent({ phase: 'export', table: 'public.a', rows: 10, bytes: 300, chunks: 1 });
    progress.onEvent({ phase: 'export', table: 'public.a', unitDone: 'rows:0' });
    progress.onEvent({ phase: 'export', table: 'public.a', unitDone: 'rows:1' });
    progress.onEvent({ phase: 'export', table: 'public.a', unitDone: 'rows:1' }); // a retried task reports it again
    progress.onEvent({ phase: 'export', table: 'public.a', unitDone: 'rows:0' });
    progress.onEvent({ phase: 'export', table: 'public.b', rows: 5, bytes: 100, chunks: 1 });
    progress.onEvent({ phase: 'export', table: 'public.b', unitDone: 'rows:0' });
    progress.onEvent({ phase: 'verify', table: 'public.a', tablesDone: 1 });
    // a: 2 of its 3 units, however often reported; b: done; empty: done from the start.
    expect(lines).toEqual([expect.stringMatching(/^backup export: 2\/3 tables, 400 B, 15 rows, 2 chunks, /)]);
    progress.onEvent({ phase: 'verify', table: 'public.b', rows: 7, tablesDone: 1 });
    progress.stop();
    // The verify phase counts its own tables; the export's bytes ahead do not carry over.
    expect(lines[1]).toMatch(/^backup verify: 2\/3 tables, 0 B, 7 rows, [\d.]+ B\/s$/);
    expect(lines).toHaveLength(2);
  });

  it('with --json (disabled) it writes nothing', () => {
    const progress = createProgress('restore', false);
    progress.onEvent({ phase: 'load', expected: { bytes: 10, unitsPerTable: { t: 1 } } });
    progress.onEvent({ phase: 'load', table: 't', bytes: 10, unitDone: 'chunk:0' });
    progress.stop();
    expect(lines).toEqual([]);
  });
});
