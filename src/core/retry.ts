// The small tools for waiting and trying again, shared by every step (issue 12: one of each).
import { setTimeout as sleepFor } from 'node:timers/promises';

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => sleepFor(ms).then(() => undefined);

/** SQLSTATEs PostgreSQL documents as "retry the transaction": deadlock and serialization failure. */
const RETRYABLE_STATES = new Set(['40P01', '40001']);

/** The SQLSTATE of a driver error, or of the error it wraps (the session adapter wraps them). */
export function sqlState(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return undefined;
}

export const isRetryableState = (err: unknown): boolean => RETRYABLE_STATES.has(sqlState(err) ?? '');

/**
 * Runs `work` again while it fails with a deadlock or serialization failure, waiting longer
 * each time with jitter (so two sessions that deadlocked do not collide again in step).
 * Gives up after `attempts` and rethrows the last error.
 */
export async function retryRetryable<R>(
  work: () => Promise<R>,
  options: { attempts?: number; baseMs?: number } = {},
): Promise<R> {
  const attempts = options.attempts ?? 8;
  const base = options.baseMs ?? 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= attempts || !isRetryableState(err)) throw err;
      const wait = Math.min(2000, base * 2 ** (attempt - 1));
      await sleep(wait / 2 + Math.random() * wait);
    }
  }
}
