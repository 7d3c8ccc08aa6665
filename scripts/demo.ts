// `npm run demo`: a real backup and restore on an embedded PostgreSQL, start to finish.
// Starts a server, creates a sample shop database, backs it up with the tidemark CLI into a
// collection in a fresh local repository (full), changes 1% of the orders, backs it up again
// (incremental), restores the second backup into a new database, verifies, and prints a summary.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../test/support/postgres-server.ts';
import { withoutPassword } from '../src/adapters/postgres/connector.ts';

const cli = fileURLToPath(new URL('../bin/tidemark.mjs', import.meta.url));

function tidemark(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

const SAMPLE = `
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE products (id serial PRIMARY KEY, sku text NOT NULL UNIQUE, title text NOT NULL, price numeric(10,2) NOT NULL CHECK (price >= 0), attributes jsonb NOT NULL DEFAULT '{}');
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers, status order_status NOT NULL DEFAULT 'new', placed_at timestamptz NOT NULL);
CREATE TABLE order_lines (order_id bigint NOT NULL REFERENCES orders ON DELETE CASCADE, product_id int NOT NULL REFERENCES products, quantity int NOT NULL CHECK (quantity > 0), PRIMARY KEY (order_id, product_id));
CREATE INDEX orders_customer_idx ON orders (customer_id, placed_at DESC);
CREATE VIEW revenue_by_day AS SELECT date_trunc('day', o.placed_at) AS day, sum(l.quantity * p.price) AS revenue
  FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id WHERE o.status <> 'cancelled' GROUP BY 1;
COMMENT ON TABLE orders IS 'One row per checkout.';
INSERT INTO customers (email, name, created_at) SELECT 'customer' || i || '@example.com', 'Customer ' || i, '2026-01-01'::timestamptz + i * interval '7 minutes' FROM generate_series(1, 20000) i;
INSERT INTO products (sku, title, price, attributes) SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i || ' – ünïcödé', (i % 500) + 0.99, jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + i % 3], 'weight', i % 17) FROM generate_series(1, 2000) i;
INSERT INTO orders (customer_id, status, placed_at) SELECT 1 + (i * 7919) % 20000, (ARRAY['new','paid','shipped','cancelled']::order_status[])[1 + i % 4], '2026-02-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 100000) i;
INSERT INTO order_lines SELECT o, 1 + (o * 31 + k * 97) % 2000, 1 + (o + k) % 5 FROM generate_series(1, 100000) o, generate_series(1, 3) k;
ANALYZE;
`;

async function main(): Promise<number> {
  const started = performance.now();
  console.log('Starting an embedded PostgreSQL 15 server…');
  const server = await startPostgres({ major: 15 });
  const repo = await mkdtemp(join(tmpdir(), 'tidemark-demo-repo-'));
  try {
    const source = await server.createDatabase('shop');
    await server.sql(SAMPLE, 'shop');
    console.log('Created database "shop": 20,000 customers, 2,000 products, 100,000 orders, 300,000 order lines.');

    console.log(`\n$ tidemark collection create shop --source postgres://…/shop --keep-last 7 --repo ${repo}`);
    const create = await tidemark([
      'collection',
      'create',
      'shop',
      '--source',
      withoutPassword(source),
      '--keep-last',
      '7',
      '--repo',
      repo,
    ]);
    if (create.code !== 0) return create.code;

    console.log(`\n$ tidemark backup --collection shop --source postgres://…/shop`);
    const full = await tidemark(['backup', '--collection', 'shop', '--source', source, '--repo', repo, '--json']);
    if (full.code !== 0) return full.code;
    const f = JSON.parse(full.stdout);
    console.log(
      `backup ${f.backupId} (full): ${f.tables} tables, ${f.rows} rows, ${f.bytesRead} bytes read, ${f.bytesStored} bytes stored (${(f.bytesRead / Math.max(1, f.bytesStored)).toFixed(1)}× smaller), ${f.seconds} s`,
    );

    await server.sql(
      `UPDATE orders SET status = 'shipped' WHERE id % 100 = 7; INSERT INTO orders (customer_id, placed_at) SELECT 1 + i, now() FROM generate_series(1, 500) i;`,
      'shop',
    );
    console.log('\nChanged 1% of the orders: 1,000 shipped, 500 new.');
    console.log(`$ tidemark backup --collection shop --source postgres://…/shop`);
    const backup = await tidemark(['backup', '--collection', 'shop', '--source', source, '--repo', repo, '--json']);
    if (backup.code !== 0) return backup.code;
    const b = JSON.parse(backup.stdout);
    console.log(
      `backup ${b.backupId} (incremental on ${b.parent}): ${b.rows} rows, ${b.bytesRead} bytes read, ${b.bytesStored} bytes stored (${((100 * b.bytesStored) / Math.max(1, f.bytesStored)).toFixed(2)}% of the full backup), ${b.bytesReferenced} bytes referenced, ${b.seconds} s`,
    );

    console.log(`\n$ tidemark verify ${b.backupId}`);
    const verify = await tidemark(['verify', b.backupId, '--repo', repo]);
    if (verify.code !== 0) return verify.code;

    console.log(`\n$ tidemark restore ${b.backupId} --target postgres://…/shop_restored`);
    const restore = await tidemark([
      'restore',
      b.backupId,
      '--target',
      server.url('shop_restored'),
      '--repo',
      repo,
      '--json',
    ]);
    if (restore.code !== 0) return restore.code;
    const r = JSON.parse(restore.stdout);
    console.log(
      `restore ${r.restoreId}: ${r.tables} tables, ${r.rows} rows, row counts and content checksums verified, ${r.seconds} s`,
    );

    const check = `SELECT (SELECT count(*) FROM orders) AS orders, (SELECT sum(revenue)::text FROM revenue_by_day) AS revenue`;
    const [before] = (await server.sql(check, 'shop')).rows;
    const [after] = (await server.sql(check, 'shop_restored')).rows;
    const same = before.orders === after.orders && before.revenue === after.revenue;
    console.log(`\nshop:          ${before.orders} orders, revenue ${before.revenue}`);
    console.log(`shop_restored: ${after.orders} orders, revenue ${after.revenue}`);
    console.log(
      `\n${same ? 'Demo passed' : 'Demo FAILED: the restored database differs'} in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
    );
    return same ? 0 : 1;
  } finally {
    await server.stop();
    await rm(repo, { recursive: true, force: true });
  }
}

process.exit(await main());
