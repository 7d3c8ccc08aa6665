// Restore targets (FORMAT.md, "Point-in-time recovery", "Targets") and snapshot visibility.
import { UsageError } from '../errors.ts';
import { isLsn } from './lsn.ts';

export type PitrTarget =
  | { kind: 'latest' }
  | { kind: 'lsn'; lsn: string }
  | { kind: 'xid'; xid: string }
  /** `micros`: microseconds since the epoch, UTC. */
  | { kind: 'time'; text: string; micros: bigint };

const ISO = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?(Z|[+-]\d\d(?::?\d\d)?)$/i;

export function parseTarget(text: string): PitrTarget {
  if (text === 'latest') return { kind: 'latest' };
  if (text.startsWith('lsn:') && isLsn(text.slice(4))) return { kind: 'lsn', lsn: text.slice(4).toUpperCase() };
  if (/^xid:\d+$/.test(text)) return { kind: 'xid', xid: BigInt(text.slice(4)).toString() };
  const micros = isoMicros(text);
  if (micros !== undefined) return { kind: 'time', text, micros };
  throw new UsageError(
    `"${text}" is not a restore target. Use an ISO-8601 time with its zone (2026-12-06T23:20:14.979275Z), lsn:X/Y, xid:N or latest.`,
  );
}

/** Microseconds since the epoch of an ISO-8601 time with zone; undefined when it is not one. */
export function isoMicros(text: string): bigint | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  if (Number.isNaN(ms)) return undefined;
  let offsetMinutes = 0;
  if (zone!.toUpperCase() !== 'Z') {
    const digits = zone!.slice(1).replace(':', '');
    offsetMinutes = (zone![0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
  }
  return BigInt(ms - offsetMinutes * 60_000) * 1000n + BigInt((frac ?? '').padEnd(6, '0'));
}

/** A backup's snapshot (`xmin:xmax:xip,…`): which transactions its data holds. */
export class TxidSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly xip: Set<string>;
  constructor(readonly text: string) {
    const [xmin, xmax, xip] = text.split(':');
    this.xmin = BigInt(xmin!);
    this.xmax = BigInt(xmax!);
    this.xip = new Set(xip ? xip.split(',') : []);
  }
  /** Whether a transaction that committed is in the snapshot's data. */
  sees(xid: string): boolean {
    return BigInt(xid) < this.xmax && !this.xip.has(xid);
  }
}
