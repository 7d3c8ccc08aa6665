// How a manifest's cost grows with the number of chunks it lists (README, "Limits"): the time to
// write (seal) and read (open and verify) one, and the process's RSS after each. Tables of 1000
// chunks of 4 MiB each, with random ids. Run it alone, not beside other work:
//   node --expose-gc --import tsx bench/manifest-scale.ts 1000000
import { randomBytes } from 'node:crypto';
import { encodeManifest, MANIFEST_FORMAT, type Manifest } from '#core/repository/manifest.ts';
import { openDocument } from '#core/repository/sealed-document.ts';

const count = Number(process.argv[2] ?? 250_000);
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const gc = () => (globalThis as { gc?: () => void }).gc?.();

const tables = Array.from({ length: Math.ceil(count / 1000) }, (_, t) => ({
  schema: 'public',
  name: `t${t}`,
  columns: ['id', 'a', 'b'],
  format: 'text',
  rows: 40_000_000,
  checksum: '0123456789abcdef',
  bytes: 1000 * 4 * 2 ** 20,
  chunks: Array.from({ length: Math.min(1000, count - t * 1000) }, () => ({
    id: randomBytes(32).toString('hex'),
    size: 4 * 2 ** 20,
    storedSize: 700_000 + Math.floor(Math.random() * 1000),
    rows: 40_000 + Math.floor(Math.random() * 100),
  })),
}));
const manifest = {
  backupId: 'bench',
  tables,
  schema: { preData: [], postData: [], tables: [] },
  warnings: [],
} as unknown as Manifest;
gc();
console.log(`${count.toLocaleString('en')} chunks in memory: RSS ${rssMb()} MB`);

let started = performance.now();
const bytes = encodeManifest(manifest);
console.log(
  `write: ${(performance.now() - started).toFixed(0)} ms, ${(bytes.length / 2 ** 20).toFixed(1)} MiB, RSS ${rssMb()} MB`,
);
tables.length = 0;
gc();
started = performance.now();
const read = openDocument(MANIFEST_FORMAT, bytes, 'bench manifest') as Manifest;
console.log(`read: ${(performance.now() - started).toFixed(0)} ms, ${read.tables.length} tables, RSS ${rssMb()} MB`);
