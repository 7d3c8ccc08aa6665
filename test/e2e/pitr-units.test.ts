// The pure parts of point-in-time recovery: targets, snapshot visibility, test_decoding lines,
// and splitting a recorded multi-statement query string.
import { expect, test } from 'vitest';
import { parseTarget, TxidSnapshot } from '#core/pitr/target.ts';
import { splitStatements, matchesTag, withoutConcurrently } from '#core/pitr/ddl-statements.ts';
import { parseDecodedLine } from '#adapters/postgres/logical-text.ts';
import { widenXid } from '#adapters/postgres/logical-stream.ts';

test('targets: ISO times with zone to the microsecond, lsn:, xid:, latest; anything else is refused', () => {
  const a = parseTarget('2026-12-06T23:20:14.979275Z');
  const b = parseTarget('2026-12-07T00:20:14.979275+01:00');
  expect(a.kind === 'time' && b.kind === 'time' && a.micros === b.micros).toBe(true);
  expect(a.kind === 'time' && a.micros % 1_000_000n).toBe(979275n);
  expect(parseTarget('lsn:0/14fe480')).toEqual({ kind: 'lsn', lsn: '0/14FE480' });
  expect(parseTarget('xid:00742')).toEqual({ kind: 'xid', xid: '742' });
  expect(parseTarget('latest')).toEqual({ kind: 'latest' });
  expect(() => parseTarget('2026-12-06 23:20:14')).toThrow(/not a restore target.*with its zone/);
});

test('a snapshot sees a committed transaction below xmax that is not in progress', () => {
  const s = new TxidSnapshot('100:105:100,103');
  expect([99, 100, 101, 103, 104, 105, 200].map((x) => s.sees(String(x)))).toEqual([
    true,
    false,
    true,
    false,
    true,
    false,
    false,
  ]);
});

test('test_decoding lines: quoted names, quotes in values, nulls, unchanged TOAST, old keys, truncate lists', () => {
  const full = widenXid(5n * 2n ** 32n + 10n);
  expect(full('7')).toBe(String(5n * 2n ** 32n + 7n));
  expect(full('4294967295')).toBe(String(4n * 2n ** 32n + 4294967295n));
  expect(
    parseDecodedLine(
      `table "my schema"."t.1": INSERT: "we ird"[character varying]:'it''s: x y' n[integer]:-5 b[bit varying]:B'101' z[text]:null`,
      full,
    ),
  ).toEqual({
    k: 'I',
    rel: '"my schema"."t.1"',
    new: [
      ['"we ird"', 'character varying', "it's: x y"],
      ['n', 'integer', '-5'],
      ['b', 'bit varying', '101'],
      ['z', 'text', null],
    ],
  });
  expect(
    parseDecodedLine(
      `table public.a: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 big[text]:unchanged-toast-datum arr[integer[]]:'{1,2}'`,
      full,
    ),
  ).toEqual({
    k: 'U',
    rel: 'public.a',
    old: [['id', 'integer', '2']],
    new: [
      ['id', 'integer', '3'],
      ['arr', 'integer[]', '{1,2}'],
    ],
    toast: ['big'],
  });
  expect(parseDecodedLine('table public.a, public.b: TRUNCATE: restart_seqs cascade', full)).toEqual({
    k: 'T',
    rels: ['public.a', 'public.b'],
    flags: ['restart_seqs', 'cascade'],
  });
  expect(parseDecodedLine('COMMIT 8 (at 2026-12-06 23:54:50.7+00)', full)).toMatchObject({
    k: 'C',
    time: '2026-12-06T23:54:50.700000Z',
  });
});

test('a recorded query string splits into its statements, each DDL message taking the next one of its tag', () => {
  const sql = `CREATE TABLE a (t text DEFAULT 'x;y'); -- c;
    INSERT INTO a VALUES ($$;$$); /* ; /* ; */ */ CREATE UNIQUE INDEX ON a (t);ALTER TABLE a ADD b int;`;
  const parts = splitStatements(sql);
  expect(parts).toHaveLength(4);
  expect(parts[1]).toBe('-- c;\n    INSERT INTO a VALUES ($$;$$)');
  expect(parts.map((p) => ['CREATE TABLE', 'CREATE INDEX', 'ALTER TABLE'].find((t) => matchesTag(p, t)))).toEqual([
    'CREATE TABLE',
    undefined,
    'CREATE INDEX',
    'ALTER TABLE',
  ]);
});

test('concurrent index commands replay in their plain form, inside the replayed transaction', () => {
  expect(withoutConcurrently('CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)')).toBe('CREATE UNIQUE INDEX i ON t (a)');
  expect(withoutConcurrently('drop index concurrently if exists i')).toBe('drop index if exists i');
  expect(withoutConcurrently('ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY')).toBe(
    'ALTER TABLE p DETACH PARTITION p1',
  );
  expect(withoutConcurrently("CREATE INDEX i ON t (a) WHERE b = 'CONCURRENTLY'")).toBe(
    "CREATE INDEX i ON t (a) WHERE b = 'CONCURRENTLY'",
  );
});
