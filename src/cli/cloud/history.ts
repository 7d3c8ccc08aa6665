// Reads progress out of a Step Functions execution history: which state the run is in, and for
// each Map how many iterations are done of how many. History is append-only, so the fold is
// incremental: feed it the events newer than the last one it saw.
import type { HistoryEvent } from '@aws-sdk/client-sfn';

export interface MapProgress {
  done: number;
  failed: number;
  /** Iterations in all, from the MapStateStarted event; undefined until it arrives. */
  total?: number;
}

export interface RunProgress {
  /** The latest state entered outside any Map iteration. */
  state?: string;
  /** Map states entered so far, in order. */
  maps: Map<string, MapProgress>;
  /** Id of the newest event folded in (0 before any). */
  lastEventId: number;
  /** Map states entered and not yet exited, innermost last. */
  openMaps: string[];
}

export function emptyProgress(): RunProgress {
  return { maps: new Map(), lastEventId: 0, openMaps: [] };
}

/** Folds events (any order, any overlap with earlier calls) into `progress`, oldest first. */
export function foldHistory(progress: RunProgress, events: HistoryEvent[]): RunProgress {
  const open = progress.openMaps;
  const fresh = events.filter((e) => (e.id ?? 0) > progress.lastEventId).sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  for (const event of fresh) {
    progress.lastEventId = event.id ?? progress.lastEventId;
    const type = event.type ?? '';
    const entered = event.stateEnteredEventDetails?.name;
    const exited = event.stateExitedEventDetails?.name;
    if (type === 'MapStateEntered' && entered) {
      open.push(entered);
      progress.state = entered;
      if (!progress.maps.has(entered)) progress.maps.set(entered, { done: 0, failed: 0 });
    } else if (type === 'MapStateExited' && exited) {
      const at = open.lastIndexOf(exited);
      if (at >= 0) open.splice(at, 1);
    } else if (entered && type.endsWith('StateEntered') && open.length === 0) {
      progress.state = entered;
    } else if (type === 'MapStateStarted') {
      const map = progress.maps.get(open[open.length - 1] ?? '');
      if (map) map.total = event.mapStateStartedEventDetails?.length;
    } else if (type === 'MapIterationSucceeded' || type === 'MapIterationFailed') {
      const details = event.mapIterationSucceededEventDetails ?? event.mapIterationFailedEventDetails;
      const map = progress.maps.get(details?.name ?? open[open.length - 1] ?? '');
      if (map && type === 'MapIterationSucceeded') map.done++;
      else if (map) map.failed++;
    }
  }
  return progress;
}

/** "ExportBatches: 3 of 12 batches done" or the state name; undefined before anything ran. */
export function describeProgress(progress: RunProgress): string | undefined {
  const state = progress.state;
  if (!state) return undefined;
  const map = progress.maps.get(state);
  if (!map) return state;
  const of = map.total !== undefined ? ` of ${map.total}` : '';
  const failed = map.failed > 0 ? `, ${map.failed} failed` : '';
  return `${state}: ${map.done}${of} batches done${failed}`;
}
