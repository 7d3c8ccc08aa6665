// What Tidemark creates in a source for point-in-time recovery (the DDL capture: an event trigger
// and its function, both tidemark_ddl_*) is never captured, warned about or restored into a
// target (issue 13, item 1): a plain backup of a PITR-enabled source carries none of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { installDdlCapture } from '#core/pitr/enable.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { capture } from './helpers.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ major: 15 });
  await server.createDatabase('pitr_source');
  await server.sql(
    `CREATE TABLE t (id int PRIMARY KEY); CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1';`,
    'pitr_source',
  );
  const url = server.url('pitr_source');
  const session = await new PostgresConnector({ urlFor: async () => url, peek: () => url }).connect({
    credentials: 'source',
  });
  try {
    await installDdlCapture(session, 'tidemark_ddl_shop');
  } finally {
    await session.close();
  }
});
afterAll(() => server?.stop());

describe("Tidemark's own objects in a source", () => {
  it("are neither captured nor reported as unsupported; the user's own function still is", async () => {
    const snapshot = await capture(server.url('pitr_source'));
    const sql = [...snapshot.preData, ...snapshot.postData.flat()].map((s) => s.sql).join('\n');
    expect(sql).toContain('public.mine()');
    expect(sql).not.toContain('tidemark_ddl_shop');
    expect(snapshot.warnings.join('\n')).not.toContain('tidemark_ddl_shop');
  });
});
