// The core's write conditions (src/core/catalog/conditions.ts) as DynamoDB ConditionExpressions:
// a translation, not a rule. Placeholders are #c<n> and :c<n>, apart from those of an update.
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import type { Condition } from '#core/catalog/conditions.ts';
import type { ItemKind } from '#core/catalog/items.ts';
import { attributeOf } from './items.ts';

export interface ConditionExpression {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

export function conditionExpression(kind: ItemKind, condition: Condition): ConditionExpression {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let n = 0;
  const expression = (c: Condition): string => {
    switch (c.is) {
      case 'absent':
        names['#pk'] = T.partitionKey;
        return 'attribute_not_exists(#pk)';
      case 'equal': {
        const i = n++;
        names[`#c${i}`] = attributeOf(kind, c.field);
        values[`:c${i}`] = c.value;
        return `#c${i} = :c${i}`;
      }
      case 'due': {
        const i = n++;
        names[`#c${i}`] = attributeOf(kind, c.field, true);
        values[`:c${i}`] = c.at.getTime();
        return `#c${i} <= :c${i}`;
      }
      case 'any':
        return `(${c.of.map(expression).join(' OR ')})`;
    }
  };
  const text = expression(condition);
  return {
    ConditionExpression: text,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}
