// Items fetched in order, each one ahead of the one being used: the next chunk is read, checked
// and decompressed while the current one loads or merges.
export class Prefetch<T, R> {
  private position = 0;
  private ahead: Promise<R> | undefined;

  constructor(
    private readonly items: readonly T[],
    private readonly fetch: (item: T) => Promise<R>,
  ) {
    this.ahead = this.start(0);
  }

  async next(): Promise<{ item: T; value: R }> {
    const item = this.items[this.position]!;
    const value = await (this.ahead ?? this.fetch(item));
    this.position++;
    this.ahead = this.start(this.position);
    return { item, value };
  }

  /** Passes over `count` items without using them (a fetch already under way is dropped). */
  skip(count: number): void {
    this.position += count;
    this.ahead = undefined;
  }

  private start(position: number): Promise<R> | undefined {
    const item = this.items[position];
    if (item === undefined) return undefined;
    const pending = this.fetch(item);
    pending.catch(() => undefined); // awaited by next(); this only stops an early unhandled rejection
    return pending;
  }
}
