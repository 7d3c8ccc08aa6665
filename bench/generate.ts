// Server-side generation of the benchmark database: five tables of mixed types, filled with
// INSERT ... SELECT generate_series by two connections at once until each table reaches its share
// of the requested size; then keys, secondary indexes, and VACUUM (FREEZE, ANALYZE) so that no
// measured tool pays for hint bits or a cold cache.
import pg from 'pg';

const WORDS = [
  'alpha',
  'bravo',
  'charlie',
  'delta',
  'echo',
  'foxtrot',
  'golf',
  'hotel',
  'india',
  'juliet',
  'kilo',
  'lima',
  'mike',
  'november',
  'oscar',
  'papa',
  'quebec',
  'romeo',
  'sierra',
  'tango',
  'uniform',
  'victor',
  'whiskey',
  'xray',
  'yankee',
  'zulu',
  'order',
  'invoice',
  'payment',
  'refund',
  'shipment',
  'customer',
  'account',
  'login',
  'logout',
  'search',
  'cart',
  'checkout',
  'review',
  'rating',
  'coupon',
  'discount',
  'warehouse',
  'stock',
  'price',
  'update',
  'delete',
  'create',
  'error',
  'timeout',
  'retry',
  'success',
  'pending',
  'failed',
  'mobile',
  'desktop',
  'linux',
  'android',
  'ios',
  'windows',
  'berlin',
  'paris',
  'tokyo',
  'lisbon',
];
const VOCAB = `ARRAY[${WORDS.map((w) => `'${w}'`).join(',')}]::text[]`;
/** A random word from the vocabulary (the `v` CTE must be in scope). Inside an aggregate it must
 * also use the aggregate's own variable, else PostgreSQL treats it as an outer-level aggregate. */
const W = `v.w[1 + floor(random() * ${WORDS.length})::int]`;

interface TableSpec {
  name: string;
  /** Share of the database size given to this table's heap (with TOAST). */
  share: number;
  /** Rough bytes per heap row, only to size batches. */
  rowBytes: number;
  create: string;
  /** SELECT producing the rows for ids $1 .. $2 (`g` is the id). */
  select: string;
  keys: string[];
}

const TABLES: TableSpec[] = [
  {
    name: 'customers',
    share: 0.1,
    rowBytes: 150,
    create: `CREATE TABLE customers (id bigint NOT NULL, name text NOT NULL, email text NOT NULL, country text,
      signup_at timestamptz NOT NULL, balance numeric(14,2), is_active boolean NOT NULL, api_token text, notes text)`,
    select: `SELECT g, initcap(${W}) || ' ' || initcap(${W}), 'user' || g || '@' || ${W} || '.example.com',
      (ARRAY['DE','FR','US','JP','PT','BR','IN'])[1 + g % 7], timestamptz '2015-01-01 UTC' + g * interval '97 seconds',
      round((random() * 20000 - 5000)::numeric, 2), g % 9 <> 0, md5(g::text || 'tok'),
      CASE WHEN random() < 0.7 THEN NULL ELSE ${W} || ' ' || ${W} || ' ' || ${W} || ' ' || ${W} END`,
    keys: ['ALTER TABLE customers ADD PRIMARY KEY (id)', 'CREATE INDEX customers_email_idx ON customers (email)'],
  },
  {
    name: 'orders',
    share: 0.2,
    rowBytes: 110,
    create: `CREATE TABLE orders (id bigint NOT NULL, customer_id bigint NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL,
      currency text NOT NULL, placed_at timestamptz NOT NULL, shipped_at timestamptz, item_count integer NOT NULL, discount numeric(5,2))`,
    select: `SELECT g, 1 + floor(random() * 1000000)::bigint, (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + floor(random() * 5)::int],
      round((random() * 500)::numeric, 2), (ARRAY['EUR','USD','JPY'])[1 + g % 3], timestamptz '2020-01-01 UTC' + g * interval '13 seconds',
      CASE WHEN random() < 0.25 THEN NULL ELSE timestamptz '2020-01-02 UTC' + g * interval '13 seconds' END,
      1 + floor(random() * 12)::int, CASE WHEN random() < 0.8 THEN NULL ELSE round((random() * 30)::numeric, 2) END`,
    keys: ['ALTER TABLE orders ADD PRIMARY KEY (id)', 'CREATE INDEX orders_customer_idx ON orders (customer_id)'],
  },
  {
    name: 'events',
    share: 0.3,
    rowBytes: 330,
    create: `CREATE TABLE events (id bigint NOT NULL, occurred_at timestamptz NOT NULL, kind text NOT NULL, payload jsonb NOT NULL)`,
    select: `SELECT g, timestamptz '2023-01-01 UTC' + g * interval '250 milliseconds', ${W},
      jsonb_build_object('v', 2, 'user_id', floor(random() * 100000)::int, 'action', ${W}, 'session', md5((g / 20)::text))
      || CASE g % 4
           WHEN 0 THEN jsonb_build_object('tags', jsonb_build_array(${W}, ${W}, ${W}))
           WHEN 1 THEN jsonb_build_object('amount', round((random() * 1000)::numeric, 2), 'currency', 'EUR', 'items', floor(random() * 9)::int)
           WHEN 2 THEN jsonb_build_object('device', jsonb_build_object('os', ${W}, 'version', (g % 17) || '.' || (g % 5)),
                                         'user_agent', 'Mozilla/5.0 (' || ${W} || '; x64) AppleWebKit/537.36 Chrome/' || (100 + g % 30))
           ELSE '{}'::jsonb END
      || CASE WHEN g % 10 = 0 THEN jsonb_build_object('error', jsonb_build_object('code', g % 600, 'message', ${W} || ' ' || ${W} || ' ' || ${W})) ELSE '{}'::jsonb END`,
    keys: ['ALTER TABLE events ADD PRIMARY KEY (id)', 'CREATE INDEX events_occurred_idx ON events (occurred_at)'],
  },
  {
    name: 'documents',
    share: 0.25,
    rowBytes: 1250,
    create: `CREATE TABLE documents (id integer NOT NULL, title text NOT NULL, body text NOT NULL, checksum bytea NOT NULL,
      thumbnail bytea, version integer NOT NULL, updated_at timestamptz NOT NULL)`,
    select: `SELECT g, initcap(${W}) || ' ' || ${W} || ' ' || substr(md5(g::text), 1, 8),
      (SELECT string_agg(v.w[k * 0 + 1 + floor(random() * ${WORDS.length})::int], ' ') FROM generate_series(1, 40 + g % 200) k),
      decode(md5(g::text), 'hex'),
      CASE WHEN g % 5 = 0 THEN NULL ELSE decode(repeat(md5((g % 1000)::text), (2 + g % 8)::int) || md5(random()::text), 'hex') END,
      1 + g % 13, timestamptz '2022-06-01 UTC' + g * interval '7 minutes'`,
    keys: ['ALTER TABLE documents ADD PRIMARY KEY (id)'],
  },
  {
    name: 'audit_log',
    share: 0.15,
    rowBytes: 120,
    create: `CREATE TABLE audit_log (logged_at timestamptz NOT NULL, actor text NOT NULL, action text NOT NULL, target_id bigint, detail text)`,
    select: `SELECT timestamptz '2024-01-01 UTC' + g * interval '3 seconds', 'svc-' || ${W}, ${W} || '.' || ${W},
      CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1e9)::bigint END,
      CASE WHEN random() < 0.5 THEN NULL ELSE 'changed ' || ${W} || ' from ' || substr(md5(g::text), 1, 6) || ' to ' || substr(md5((g + 1)::text), 1, 6) END`,
    keys: [], // deliberately no key
  },
];

/** Heap (with TOAST) is about this fraction of pg_database_size; the rest is indexes and catalogs. */
const HEAP_FRACTION = 0.8;

export interface GenerateResult {
  seconds: number;
  databaseBytes: number;
  tables: { name: string; rows: number; bytes: number }[];
}

export async function generateDatabase(
  url: string,
  sizeMB: number,
  log: (line: string) => void,
): Promise<GenerateResult> {
  const started = performance.now();
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const [main] = clients;
    for (const t of TABLES) await main!.query(t.create);
    const state = TABLES.map((t) => {
      const target = sizeMB * 1024 * 1024 * HEAP_FRACTION * t.share;
      const batchRows = Math.max(1000, Math.round(Math.min(16 * 1024 * 1024, target / 4) / t.rowBytes));
      return { spec: t, target, batchRows, bytes: 0, inflight: 0, nextId: 1 };
    });
    // Each connection claims the table furthest from its target, inserts one batch, re-measures.
    const worker = async (client: pg.Client) => {
      for (;;) {
        const open = state.filter((s) => s.bytes + s.inflight < s.target);
        if (open.length === 0) return;
        const s = open.sort((a, b) => (a.bytes + a.inflight) / a.target - (b.bytes + b.inflight) / b.target)[0]!;
        const first = s.nextId;
        s.nextId += s.batchRows;
        const estimate = s.batchRows * s.spec.rowBytes;
        s.inflight += estimate;
        await client.query(
          `WITH v AS (SELECT ${VOCAB} AS w) INSERT INTO ${s.spec.name} ${s.spec.select} FROM v, generate_series($1::bigint, $2::bigint) g`,
          [first, first + s.batchRows - 1],
        );
        s.inflight -= estimate;
        const { rows } = await client.query(`SELECT pg_table_size('${s.spec.name}')::bigint AS n`);
        s.bytes = Math.max(s.bytes, Number(rows[0].n));
      }
    };
    await Promise.all(clients.map(worker));
    log(`  rows loaded in ${((performance.now() - started) / 1000).toFixed(1)} s; building keys and indexes`);
    const ddl = TABLES.flatMap((t) => t.keys);
    await Promise.all(
      clients.map(async (c) => {
        for (let q = ddl.shift(); q !== undefined; q = ddl.shift()) await c.query(q);
      }),
    );
    const vacuum = TABLES.map((t) => t.name);
    await Promise.all(
      clients.map(async (c) => {
        for (let t = vacuum.shift(); t !== undefined; t = vacuum.shift())
          await c.query(`VACUUM (FREEZE, ANALYZE) ${t}`);
      }),
    );
    await main!.query('CHECKPOINT');
    const tables: GenerateResult['tables'] = [];
    for (const t of TABLES) {
      const { rows } = await main!.query(
        `SELECT count(*)::bigint AS rows, pg_total_relation_size('${t.name}')::bigint AS bytes FROM ${t.name}`,
      );
      tables.push({ name: t.name, rows: Number(rows[0].rows), bytes: Number(rows[0].bytes) });
    }
    const { rows } = await main!.query('SELECT pg_database_size(current_database())::bigint AS n');
    return { seconds: (performance.now() - started) / 1000, databaseBytes: Number(rows[0].n), tables };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** Row counts per table, to check a restore. */
export async function countRows(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const t of TABLES) {
      const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM ${t.name}`);
      counts[t.name] = Number(rows[0].n);
    }
    return counts;
  } finally {
    await client.end();
  }
}
