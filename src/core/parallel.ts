// The one concurrency limit of the core: runs `work` over `items` on a fixed number of lanes, so
// many storage calls or sessions overlap their latency without unbounded concurrency.
export async function forEachInParallel<T>(
  items: Iterable<T>,
  lanes: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const next = items[Symbol.iterator]();
  await Promise.all(
    Array.from({ length: Math.max(1, lanes) }, async () => {
      for (let step = next.next(); !step.done; step = next.next()) await work(step.value);
    }),
  );
}
