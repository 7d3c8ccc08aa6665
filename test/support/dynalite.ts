// A real local DynamoDB for tests: dynalite in this process, in memory, on a free port of
// 127.0.0.1. It has no transactions and no UpdateTimeToLive (shared/LOCAL-STACK.md).
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClient } from '#adapters/dynamodb-catalog/client.ts';

type Dynalite = (options: Record<string, unknown>) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;

export interface LocalDynamoDb {
  /** e.g. http://127.0.0.1:41235 */
  endpoint: string;
  /** A document client for this server (dynalite accepts any credentials). */
  client(): DynamoDBDocumentClient;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamoDb> {
  // Tables become ACTIVE at once instead of after dynalite's default 500 ms.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: DynamoDBClient[] = [];
  return {
    endpoint,
    client() {
      const base = createDynamoDbClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      clients.push(base);
      return DynamoDBDocumentClient.from(base);
    },
    async stop() {
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
