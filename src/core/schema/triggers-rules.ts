// Triggers and rules, after the data (they would fire or rewrite during the load), with their
// enabled state. Internal triggers (constraints) and partition clones are created by others.
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';

interface TriggerRow {
  oid: number;
  name: string;
  table: string;
  def: string;
  enabled: 'O' | 'D' | 'R' | 'A';
}

const ENABLE = { O: null, D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' } as const;

const ON_USER_RELATION = `JOIN pg_catalog.pg_class c ON c.oid = REL
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${USER_SCHEMA}
      AND ${notExtensionMember('pg_class', 'c.oid')}`;

export async function captureTriggers(capture: Capture): Promise<void> {
  const rows = await capture.query<TriggerRow>(`
    SELECT t.oid, pg_catalog.quote_ident(t.tgname) AS name,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table,
      pg_catalog.pg_get_triggerdef(t.oid) AS def, t.tgenabled AS enabled
    FROM pg_catalog.pg_trigger t
    ${ON_USER_RELATION.replace('REL', 't.tgrelid')} AND NOT t.tgisinternal AND t.tgparentid = 0
    ORDER BY 3, 2`);
  for (const row of rows) {
    const object = `trigger ${row.name} on ${row.table}`;
    capture.addPost(Wave.dependents, { object, kind: 'trigger', sql: row.def });
    // ONLY: on a partitioned table the state would recurse to the clones, which keep their own
    // (set below), and the two would race in one wave.
    const state = ENABLE[row.enabled];
    if (state)
      capture.addPost(Wave.finishing, {
        object,
        kind: 'trigger',
        sql: `ALTER TABLE ONLY ${row.table} ${state} TRIGGER ${row.name}`,
      });
    capture.comments.set(key('pg_trigger', row.oid), {
      target: `TRIGGER ${row.name} ON ${row.table}`,
      object,
      wave: Wave.finishing,
    });
  }
  await captureCloneStates(capture);
}

/**
 * A trigger of a partitioned table is cloned onto each partition when the parent's is created;
 * a clone's own enable state (ALTER TABLE partition DISABLE TRIGGER …) is set here.
 */
async function captureCloneStates(capture: Capture): Promise<void> {
  const rows = await capture.query<TriggerRow>(`
    SELECT t.oid, pg_catalog.quote_ident(t.tgname) AS name,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table,
      '' AS def, t.tgenabled AS enabled
    FROM pg_catalog.pg_trigger t
    ${ON_USER_RELATION.replace('REL', 't.tgrelid')} AND NOT t.tgisinternal AND t.tgparentid <> 0 AND t.tgenabled <> 'O'
    ORDER BY 3, 2`);
  for (const row of rows) {
    const object = `trigger ${row.name} on ${row.table}`;
    capture.addPost(Wave.finishing, {
      object,
      kind: 'trigger',
      sql: `ALTER TABLE ONLY ${row.table} ${ENABLE[row.enabled]} TRIGGER ${row.name}`,
    });
  }
}

export async function captureRules(capture: Capture): Promise<void> {
  const rows = await capture.query<TriggerRow>(`
    SELECT r.oid, pg_catalog.quote_ident(r.rulename) AS name,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table,
      pg_catalog.pg_get_ruledef(r.oid) AS def, r.ev_enabled AS enabled
    FROM pg_catalog.pg_rewrite r
    ${ON_USER_RELATION.replace('REL', 'r.ev_class')} AND r.rulename <> '_RETURN'
    ORDER BY 3, 2`);
  for (const row of rows) {
    const object = `rule ${row.name} on ${row.table}`;
    capture.addPost(Wave.dependents, { object, kind: 'rule', sql: row.def.trim().replace(/;$/, '') });
    const state = ENABLE[row.enabled];
    if (state)
      capture.addPost(Wave.finishing, {
        object,
        kind: 'rule',
        sql: `ALTER TABLE ${row.table} ${state} RULE ${row.name}`,
      });
    capture.comments.set(key('pg_rewrite', row.oid), {
      target: `RULE ${row.name} ON ${row.table}`,
      object,
      wave: Wave.finishing,
    });
  }
}
