// Progress on stderr for long work: a live bar on a terminal, a line every few seconds
// otherwise, nothing with --json.
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '#core/task-context.ts';
import { formatBytes, formatCount } from './output.ts';

export interface ProgressDisplay {
  onEvent(event: ProgressEvent): void;
  /** Sets the total for the bar (bytes expected), when known. */
  setTotal(bytes: number): void;
  stop(): void;
}

export function createProgress(label: string, enabled: boolean): ProgressDisplay {
  if (!enabled) return { onEvent() {}, setTotal() {}, stop() {} };
  const started = Date.now();
  let bytes = 0;
  let rows = 0;
  let chunks = 0;
  let tables = 0;
  let phase = '';
  let total = 0;
  const rate = () => formatBytes(bytes / Math.max(0.001, (Date.now() - started) / 1000)) + '/s';
  const payload = () => ({ phase, rows: formatCount(rows), done: formatBytes(bytes), rate: rate(), chunks, tables });
  const tty = process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${label} {phase} [{bar}] {percentage}% | {done} | {rows} rows | {chunks} chunks | {tables} tables | {rate}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(1, 0, payload());
  let lastLine = Date.now();
  return {
    onEvent(event) {
      if (event.phase !== phase) {
        phase = event.phase;
        bytes = 0;
        rows = 0;
        chunks = 0;
      }
      bytes += event.bytes ?? 0;
      rows += event.rows ?? 0;
      chunks += event.chunks ?? 0;
      tables += event.tablesDone ?? 0;
      if (bar) {
        bar.setTotal(Math.max(total, bytes, 1));
        bar.update(bytes, payload());
      } else if (Date.now() - lastLine > 5000) {
        lastLine = Date.now();
        process.stderr.write(`${label} ${phase}: ${formatBytes(bytes)}, ${formatCount(rows)} rows, ${chunks} chunks, ${rate()}\n`);
      }
    },
    setTotal(bytesTotal) {
      total = bytesTotal;
    },
    stop() {
      bar?.stop();
    },
  };
}
