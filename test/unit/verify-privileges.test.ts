// The comparison half of the privilege check (restore/verify-privileges.ts), on states as
// schema/privilege-state.ts reads them: which warnings excuse which object, large objects compared
// as oid ranges, `public` against each version's default. The reading half runs against real
// PostgreSQL in test/e2e/verify-privileges.test.ts.
import { describe, expect, it } from 'vitest';
import { eventTriggerDifferences, privilegeDifferences, warnedAbout } from '#core/restore/verify-privileges.ts';
import type { PrivilegeState } from '#core/schema/privilege-state.ts';

const state = (part: Partial<PrivilegeState>): PrivilegeState => ({
  objects: [],
  columns: [],
  defaultPrivileges: [],
  initialPrivileges: [],
  largeObjects: [],
  ...part,
});

describe('warnedAbout', () => {
  const warned = warnedAbout([
    'skipped acl statement for table public.t: role "gone" does not exist on the target',
    'large object 42: no privileges could be granted (running GRANT …): the grantee lacks a privilege it had. …',
    'skipped owner statement for function public.f(integer): role "gone" does not exist on the target; …',
  ]);

  it('matches an object named whole, not one whose name only starts the same', () => {
    expect(warned('table public.t')).toBe(true);
    expect(warned('table public.t2')).toBe(false);
    expect(warned('table public')).toBe(false);
    expect(warned('large object 42')).toBe(true);
    expect(warned('large object 4')).toBe(false);
    expect(warned('function public.f(integer)')).toBe(true);
  });
});

describe('privilegeDifferences', () => {
  it('names a lost grant with both lists, and excuses an object a warning names', () => {
    const expected = state({
      objects: [
        { object: 'table public.t', owner: 'app', acl: ['+reader=SELECT'] },
        { object: 'table public.u', owner: 'app', acl: ['+gone=SELECT'] },
      ],
    });
    const actual = state({
      objects: [
        { object: 'table public.t', owner: 'app' },
        { object: 'table public.u', owner: 'postgres' },
      ],
    });
    expect(
      privilegeDifferences(expected, actual, [
        'skipped owner statement for table public.u: role "app" does not exist on the target',
      ]),
    ).toEqual([
      'table public.t has the default privileges (expected default +reader=SELECT, as the backup restores them)',
    ]);
  });

  it('applies the source changes to public to the target version’s default (13 → 15: CREATE for PUBLIC)', () => {
    const v13 = ['(owner)=CREATE', '(owner)=USAGE', 'PUBLIC=CREATE', 'PUBLIC=USAGE'];
    const v15 = ['(owner)=CREATE', '(owner)=USAGE', 'PUBLIC=USAGE'];
    const source = {
      object: 'schema public',
      acl: ['(owner)=CREATE', '(owner)=USAGE', 'PUBLIC=USAGE'],
      defaultAcl: v13,
    };
    expect(
      privilegeDifferences(
        state({ objects: [source] }),
        state({ objects: [{ object: 'schema public', acl: v15, defaultAcl: v15 }] }),
        [],
      ),
    ).toEqual([]);
    const granted = { object: 'schema public', acl: [...v15, 'reader=CREATE'].sort(), defaultAcl: v15 };
    expect(privilegeDifferences(state({ objects: [source] }), state({ objects: [granted] }), [])).toEqual([
      'schema public has (owner)=CREATE (owner)=USAGE PUBLIC=USAGE reader=CREATE (expected (owner)=CREATE (owner)=USAGE PUBLIC=USAGE, as the backup restores them)',
    ]);
  });

  it('compares large objects as ranges, naming the ones that differ unless a warning names them', () => {
    const expected = state({
      largeObjects: [
        { owner: 'app', oids: '100-199,300' },
        { owner: 'app', acl: ['+reader=SELECT'], oids: '200-299' },
      ],
    });
    const same = state({
      largeObjects: [
        { owner: 'app', oids: '100-149,150-199,300' },
        { owner: 'app', acl: ['+reader=SELECT'], oids: '200-299' },
      ],
    });
    expect(privilegeDifferences(expected, same, [])).toEqual([]);
    const lost = state({
      largeObjects: [
        { owner: 'app', oids: '100-199,250,300' },
        { owner: 'app', acl: ['+reader=SELECT'], oids: '200-249,251-299' },
      ],
    });
    expect(privilegeDifferences(expected, lost, [])).toEqual([
      'large object 250 has owner app, the default privileges (owner app, default +reader=SELECT at the source)',
    ]);
    expect(privilegeDifferences(expected, lost, ['large object 250: … the grantee lacks a privilege it had'])).toEqual(
      [],
    );
  });

  it('compares default privileges and extension members both ways', () => {
    const expected = state({
      defaultPrivileges: [{ object: 'default privileges for role app on tables', acl: ['+reader=SELECT'] }],
    });
    const actual = state({
      initialPrivileges: [{ object: 'language plpgsql', acl: ['+PUBLIC=USAGE'] }],
    });
    expect(privilegeDifferences(expected, actual, [])).toEqual([
      'default privileges for role app on tables has the built-in default privileges (default +reader=SELECT at the source)',
      'language plpgsql has default +PUBLIC=USAGE (the privileges a new database gives it at the source)',
    ]);
  });
});

describe('eventTriggerDifferences', () => {
  const trigger = {
    name: 'log',
    event: 'ddl_command_end',
    function: 'app.log',
    enabled: 'A',
    tags: null,
    owner: 'app',
  };

  it('names a missing or changed trigger, and excuses one a warning names', () => {
    expect(eventTriggerDifferences([trigger], [], () => false)).toEqual(['event trigger log is missing']);
    expect(eventTriggerDifferences([trigger], [{ ...trigger, enabled: 'D' }], () => false)).toEqual([
      'event trigger log is disabled (enabled always at the source)',
    ]);
    expect(eventTriggerDifferences([trigger], [], warnedAbout(['event trigger log was not created: …']))).toEqual([]);
  });
});
