// Event triggers, created last, as pg_dump places them: created earlier, a trigger would fire on
// the restore's own DDL (and write into the user's tables, or refuse it). They travel as post-data
// waves (before the relation grants'), marked with kind `event trigger` (EVENT_TRIGGER_KIND): the
// restore leaves them out of Finish and creates them in Complete, with the progress tables' drop,
// once nothing else runs (restore/event-triggers.ts). One wave per step, so one trigger's
// statements (one catalog row) never run side by side. Tidemark's own (point-in-time recovery's
// `tidemark_ddl_*`) is never captured.
import { ownerStatement } from './acl.ts';
import { type Capture, notExtensionMember } from './context.ts';
import type { DdlStatement } from './model.ts';
import { quoteLiteral } from '../sql.ts';

export const EVENT_TRIGGER_KIND = 'event trigger';

interface EventTriggerRow {
  ident: string;
  event: string;
  tags: string[] | null;
  func: string;
  owner: string;
  enabled: 'O' | 'D' | 'R' | 'A';
  comment: string | null;
}

const ENABLE = { O: null, D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' } as const;

/** The event triggers' waves: create, owner, enable state, comment (empty ones left out). */
export async function captureEventTriggers(capture: Capture): Promise<DdlStatement[][]> {
  const rows = await capture.query<EventTriggerRow>(`
    SELECT pg_catalog.quote_ident(e.evtname) AS ident, e.evtevent AS event, e.evttags AS tags,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) AS func,
      pg_catalog.pg_get_userbyid(e.evtowner) AS owner, e.evtenabled AS enabled,
      pg_catalog.obj_description(e.oid, 'pg_event_trigger') AS comment
    FROM pg_catalog.pg_event_trigger e
    JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    -- Tidemark's own is tidemark_ddl_<collection> on public.<its name> (pitr/names.ts); a user's
    -- trigger that only starts like it is the user's.
    WHERE NOT (e.evtname LIKE 'tidemark\\_ddl\\_%' AND p.proname = e.evtname AND n.nspname = 'public')
      AND ${notExtensionMember('pg_event_trigger', 'e.oid')}
    ORDER BY 1`);
  const waves: DdlStatement[][] = [[], [], [], []];
  for (const row of rows) {
    const object = `event trigger ${row.ident}`;
    const statement = (sql: string): DdlStatement => ({ object, kind: EVENT_TRIGGER_KIND, sql });
    waves[0]!.push(statement(eventTriggerSql(row)));
    waves[1]!.push({ ...ownerStatement(`EVENT TRIGGER ${row.ident}`, object, row.owner), kind: EVENT_TRIGGER_KIND });
    const enable = ENABLE[row.enabled];
    if (enable) waves[2]!.push(statement(`ALTER EVENT TRIGGER ${row.ident} ${enable}`));
    if (row.comment !== null)
      waves[3]!.push(statement(`COMMENT ON EVENT TRIGGER ${row.ident} IS ${quoteLiteral(row.comment)}`));
  }
  return waves.filter((wave) => wave.length > 0);
}

export function eventTriggerSql(row: Pick<EventTriggerRow, 'ident' | 'event' | 'tags' | 'func'>): string {
  const when = row.tags?.length ? ` WHEN TAG IN (${row.tags.map(quoteLiteral).join(', ')})` : '';
  return `CREATE EVENT TRIGGER ${row.ident} ON ${row.event}${when} EXECUTE FUNCTION ${row.func}()`;
}

/** True for the statements Complete applies rather than Finish. */
export const isEventTriggerStatement = (statement: DdlStatement): boolean => statement.kind === EVENT_TRIGGER_KIND;
