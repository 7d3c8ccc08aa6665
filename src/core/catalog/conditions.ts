// The conditions of the catalog's conditional writes, as data. The core states each rule once
// (lifecycle.ts, leases.ts) as a Condition; a backend either evaluates it on the item it has just
// read (`holds`: the file catalog's compare-and-swap) or translates it into its own conditional
// write (a DynamoDB ConditionExpression), so no backend holds a copy of a rule.

export type Condition =
  /** No item (never written, or deleted). */
  | { is: 'absent' }
  /** The item exists and `field` holds `value`. */
  | { is: 'equal'; field: string; value: string }
  /** The item exists and the ISO-8601 instant in `field` is at or before `at`. */
  | { is: 'due'; field: string; at: Date }
  /** At least one of `of` holds. */
  | { is: 'any'; of: Condition[] };

export const ABSENT: Condition = { is: 'absent' };

export const fieldIs = (field: string, value: string): Condition => ({ is: 'equal', field, value });

/** Whether `condition` holds on `item` (the current record, `undefined` when there is none). */
export function holds(condition: Condition, item: object | undefined): boolean {
  const field = (name: string) => (item as Record<string, unknown> | undefined)?.[name];
  switch (condition.is) {
    case 'absent':
      return item === undefined;
    case 'equal':
      return item !== undefined && field(condition.field) === condition.value;
    case 'due':
      return item !== undefined && instantReached(String(field(condition.field)), condition.at);
    case 'any':
      return condition.of.some((c) => holds(c, item));
  }
}

/** True when the ISO-8601 `instant` is at or before `now`: compares instants, not text. */
export function instantReached(instant: string, now: Date): boolean {
  return Date.parse(instant) <= now.getTime();
}
