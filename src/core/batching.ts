// Groups work items into batches by size: one batch is one task invocation (a Lambda call, a
// Map iteration). At most `maxBatches` batches keep the Map's item list — and so the state
// payload — small at any database size.

export interface BatchPolicy {
  /** Target bytes per batch; raised so that there are at most `maxBatches` batches. */
  targetBytes: number;
  maxBatches: number;
  /** Most items in one batch (also raised to respect maxBatches). */
  maxItems?: number;
}

/** Items keep their order; callers sort first (largest first, so long work starts early). */
export function packBySize<T>(items: readonly T[], sizeOf: (item: T) => number, policy: BatchPolicy): T[][] {
  const total = items.reduce((sum, item) => sum + sizeOf(item), 0);
  let target = Math.max(policy.targetBytes, Math.ceil(total / policy.maxBatches));
  let maxItems = Math.max(policy.maxItems ?? Infinity, Math.ceil(items.length / policy.maxBatches));
  // Greedy packing can overshoot maxBatches by rounding: widen the batches until it fits.
  for (;;) {
    const batches = pack(items, sizeOf, target, maxItems);
    if (batches.length <= policy.maxBatches) return batches;
    target = Math.ceil(target * 1.25);
    maxItems = Math.ceil(maxItems * 1.25);
  }
}

function pack<T>(items: readonly T[], sizeOf: (item: T) => number, target: number, maxItems: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (bytes + size > target || current.length >= maxItems)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
