// Parses the text `test_decoding` writes for each change (contrib/test_decoding/test_decoding.c):
//   BEGIN 729
//   table public.a: INSERT: id[integer]:1 v[text]:'it''s'
//   table public.a: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 v[text]:null
//   table public.a: DELETE: id[integer]:3            (or "(no-tuple-data)")
//   table public.a, public.b: TRUNCATE: restart_seqs cascade    (or "(no-flags)")
//   message: transactional: 1 prefix: tidemark_ddl, sz: 12 content:…
//   COMMIT 729 (at 2026-12-06 23:54:50.700639+00)
// Names come quoted by quote_identifier, values by print_literal: numbers and booleans bare,
// bit strings as B'…', everything else as a '…' literal with '' for a quote.
import type { ChangeRecord, DecodedColumn } from '#core/ports/change-stream.ts';

export class DecodingParseError extends Error {}

/** The prefix of the non-transactional messages `ChangeStream.heartbeat` writes. */
export const HEARTBEAT_PREFIX = 'tidemark_heartbeat';

/** One decoded line; `fullXid` widens the plugin's 32-bit xid to the 64-bit txid. */
export function parseDecodedLine(line: string, fullXid: (xid32: string) => string): ChangeRecord | undefined {
  if (line.startsWith('BEGIN ')) return { k: 'B', xid: fullXid(line.slice(6).trim()) };
  if (line.startsWith('COMMIT ')) {
    const m = /^COMMIT (\d+) \(at (.+)\)$/.exec(line);
    if (!m) throw new DecodingParseError(`unreadable commit line: ${line.slice(0, 200)}`);
    return { k: 'C', xid: fullXid(m[1]!), lsn: '', time: isoMicros(m[2]!) };
  }
  if (line.startsWith('message: ')) {
    const m = /^message: transactional: (\d) prefix: (.*?), sz: (\d+) content:([\s\S]*)$/.exec(line);
    if (!m) throw new DecodingParseError(`unreadable message line: ${line.slice(0, 200)}`);
    if (m[1] === '1') return { k: 'M', prefix: m[2]!, content: m[4]! };
    // Other non-transactional messages are outside any transaction: nothing to replay.
    return m[2] === HEARTBEAT_PREFIX ? { k: 'H', lsn: '' } : undefined;
  }
  if (line.startsWith('table ')) return parseTableLine(line);
  throw new DecodingParseError(`unknown decoded line: ${line.slice(0, 200)}`);
}

/** `2026-12-06 23:54:50.7+00` (the session is UTC) as `2026-12-06T23:54:50.700000Z`. */
export function isoMicros(text: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (!m)
    throw new DecodingParseError(
      `commit time not in UTC ISO form: ${text} (the decoding session must run with TimeZone UTC)`,
    );
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z`;
}

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  eat(text: string): boolean {
    if (!this.s.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }
  expect(text: string): void {
    if (!this.eat(text)) throw new DecodingParseError(`expected "${text}" at ${this.pos} in: ${this.s.slice(0, 200)}`);
  }
  done(): boolean {
    return this.pos >= this.s.length;
  }
  /** A quote_identifier name: "…" with "" inside, or bare up to one of `stops`. */
  identifier(stops: string): string {
    const start = this.pos;
    if (this.s[this.pos] === '"') {
      this.pos++;
      for (;;) {
        const q = this.s.indexOf('"', this.pos);
        if (q < 0) throw new DecodingParseError(`unterminated quoted name in: ${this.s.slice(0, 200)}`);
        this.pos = q + 1;
        if (this.s[this.pos] === '"') this.pos++;
        else break;
      }
    } else {
      while (this.pos < this.s.length && !stops.includes(this.s[this.pos]!)) this.pos++;
    }
    return this.s.slice(start, this.pos);
  }
}

function parseTableLine(line: string): ChangeRecord {
  const c = new Cursor(line);
  c.expect('table ');
  const rels: string[] = [];
  for (;;) {
    const schema = c.identifier('.');
    c.expect('.');
    rels.push(`${schema}.${c.identifier(':,')}`);
    if (!c.eat(', ')) break;
  }
  c.expect(': ');
  if (c.eat('TRUNCATE:')) {
    const flags = line.slice(c.pos).trim();
    return { k: 'T', rels, flags: flags === '(no-flags)' ? [] : flags.split(' ') };
  }
  const rel = rels[0]!;
  if (c.eat('INSERT:')) return { k: 'I', rel, new: tuple(c).columns };
  if (c.eat('DELETE:')) return { k: 'D', rel, old: c.eat(' (no-tuple-data)') ? null : tuple(c).columns };
  if (c.eat('UPDATE:')) {
    let old: DecodedColumn[] | undefined;
    if (c.eat(' old-key:')) {
      old = tuple(c, ' new-tuple:').columns;
      c.expect(' new-tuple:');
    }
    const { columns, toast } = tuple(c);
    return { k: 'U', rel, ...(old ? { old } : {}), new: columns, ...(toast.length ? { toast } : {}) };
  }
  throw new DecodingParseError(`unknown change in: ${line.slice(0, 200)}`);
}

/** Columns ` name[type]:value` up to the end or `until`. */
function tuple(c: Cursor, until?: string): { columns: DecodedColumn[]; toast: string[] } {
  const columns: DecodedColumn[] = [];
  const toast: string[] = [];
  while (!c.done() && !(until && c.s.startsWith(until, c.pos))) {
    c.expect(' ');
    const name = c.identifier('[');
    c.expect('[');
    const typeEnd = c.s.indexOf(']:', c.pos);
    if (typeEnd < 0) throw new DecodingParseError(`column ${name} has no type in: ${c.s.slice(0, 200)}`);
    const type = c.s.slice(c.pos, typeEnd);
    c.pos = typeEnd + 2;
    const value = literal(c);
    if (value === TOAST) toast.push(name);
    else columns.push([name, type, value]);
  }
  return { columns, toast };
}

const TOAST = Symbol('unchanged-toast-datum');

function literal(c: Cursor): string | null | typeof TOAST {
  if (c.eat('null')) return null;
  if (c.eat('unchanged-toast-datum')) return TOAST;
  const bit = c.eat('B');
  if (c.s[c.pos] === "'") {
    let out = '';
    c.pos++;
    for (;;) {
      const q = c.s.indexOf("'", c.pos);
      if (q < 0) throw new DecodingParseError(`unterminated literal in: ${c.s.slice(0, 200)}`);
      out += c.s.slice(c.pos, q);
      c.pos = q + 1;
      if (c.s[c.pos] === "'") {
        out += "'";
        c.pos++;
      } else break;
    }
    return out;
  }
  if (bit) throw new DecodingParseError(`bad bit string in: ${c.s.slice(0, 200)}`);
  const end = c.s.indexOf(' ', c.pos);
  const stop = end < 0 ? c.s.length : end;
  const raw = c.s.slice(c.pos, stop);
  c.pos = stop;
  return raw;
}
