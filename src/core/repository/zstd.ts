// The zstd codec chunks and change segments are stored with (ports/zstd.ts). Which
// implementation a process has is the runtime's business, not the core's: the adapter that
// loads one (src/adapters/zstd-codec.ts) provides it here when imported — by the storage
// adapters, so every process that reaches a repository has it — and it is loaded on first use.
import type { Zstd } from '../ports/zstd.ts';
import { TidemarkError } from '../errors.ts';

let provided: (() => Zstd) | undefined;
let loaded: Zstd | undefined;

/** Sets the codec of this process; `load` runs on first use (a command that stores no chunk loads none). */
export function provideZstd(load: () => Zstd): void {
  provided = load;
  loaded = undefined;
}

export function zstd(): Zstd {
  if (loaded) return loaded;
  if (!provided) {
    throw new TidemarkError(
      'No zstd codec was provided to this process, so chunks can be neither written nor read. ' +
        "Import '#adapters/zstd-codec.ts' in the entry point (the storage adapters do), which provides the platform's.",
    );
  }
  loaded = provided();
  return loaded;
}
