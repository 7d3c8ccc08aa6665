// Progress on stderr for long work: a live bar on a terminal; otherwise a line every few seconds
// and one when each phase ends (logs and CI show where a run got to); nothing with --json.
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '#core/task-context.ts';
import { formatBytes, formatCount } from './output.ts';

export interface ProgressDisplay {
  onEvent(event: ProgressEvent): void;
  stop(): void;
}

const LINE_EVERY_MS = 5000;

export function createProgress(label: string, enabled: boolean): ProgressDisplay {
  if (!enabled) return { onEvent() {}, stop() {} };
  let phase = '';
  let phaseStarted = Date.now();
  let bytes = 0;
  let rows = 0;
  let chunks = 0;
  let tables = 0;
  // From the `expected` event: bytes ahead (an estimate in a backup), units per table, and the
  // units seen done (a set: a retried task reports its units again).
  let expectedBytes = 0;
  let tableCount = 0;
  const unitsExpected = new Map<string, number>();
  const unitsSeen = new Map<string, Set<string>>();

  const rate = () => formatBytes(bytes / Math.max(0.001, (Date.now() - phaseStarted) / 1000)) + '/s';
  const tablesText = () => (tableCount > 0 ? `${tables}/${tableCount}` : String(tables));
  const summary = (ended: boolean) =>
    [
      `${label === phase ? label : `${label} ${phase}`}: ` +
        (tableCount > 0 || tables > 0 ? `${tablesText()} tables, ` : '') +
        formatBytes(bytes) +
        (!ended && expectedBytes > bytes ? ` of ~${formatBytes(expectedBytes)}` : ''),
      ...(rows > 0 ? [`${formatCount(rows)} rows`] : []),
      ...(chunks > 0 ? [`${chunks} chunks`] : []),
      rate(),
    ].join(', ');
  const tty = process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: `${label} {phase} [{bar}] {percentage}% | {done} | {rows} rows | {chunks} chunks | {tables} tables | {rate}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const payload = () => ({
    phase,
    rows: formatCount(rows),
    done: formatBytes(bytes),
    rate: rate(),
    chunks,
    tables: tablesText(),
  });
  bar?.start(1, 0, payload());
  let lastLine = Date.now();
  /** Without a terminal: the line of a phase that did something, when it ends. */
  const endPhase = () => {
    if (!bar && phase && (bytes > 0 || tables > 0)) process.stderr.write(summary(true) + '\n');
  };

  return {
    onEvent(event) {
      if (event.phase !== phase) {
        endPhase();
        phase = event.phase;
        phaseStarted = Date.now();
        bytes = 0;
        rows = 0;
        chunks = 0;
        tables = 0; // the table count (tableCount) carries over: a restore verifies what it loaded
        expectedBytes = 0; // the bytes ahead were the last phase's
      }
      if (event.expected) {
        expectedBytes = event.expected.bytes;
        unitsExpected.clear();
        unitsSeen.clear();
        for (const [table, units] of Object.entries(event.expected.unitsPerTable)) unitsExpected.set(table, units);
        tableCount = unitsExpected.size;
        tables = [...unitsExpected.values()].filter((n) => n === 0).length; // empty tables: nothing to wait for
      }
      bytes += event.bytes ?? 0;
      rows += event.rows ?? 0;
      chunks += event.chunks ?? 0;
      tables += event.tablesDone ?? 0;
      const expectedUnits = event.table === undefined ? undefined : unitsExpected.get(event.table);
      if (event.unitDone !== undefined && expectedUnits !== undefined) {
        const seen = unitsSeen.get(event.table!) ?? new Set<string>();
        unitsSeen.set(event.table!, seen);
        if (!seen.has(event.unitDone)) {
          seen.add(event.unitDone);
          if (seen.size === expectedUnits) tables++;
        }
      }
      if (bar) {
        bar.setTotal(Math.max(expectedBytes, bytes, 1));
        bar.update(bytes, payload());
      } else if (Date.now() - lastLine > LINE_EVERY_MS) {
        lastLine = Date.now();
        process.stderr.write(summary(false) + '\n');
      }
    },
    stop() {
      endPhase();
      phase = '';
      bar?.stop();
    },
  };
}
