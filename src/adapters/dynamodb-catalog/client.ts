// The one place a DynamoDB client is built (Lambda tasks, the local CLI, cloud mode, tests), so
// every catalog user rides out throttling and 5xx the same way before a request fails: the SDK's
// standard retry mode (exponential backoff with jitter, a retry quota), 6 attempts in all, like
// the S3 client. Callers give where to connect only; region and credentials default to the SDK's.
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';

export const DYNAMODB_MAX_ATTEMPTS = 6;

export type DynamoDbClientOptions = Pick<DynamoDBClientConfig, 'region' | 'endpoint' | 'credentials'>;

export function createDynamoDbClient(options: DynamoDbClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({ ...options, maxAttempts: DYNAMODB_MAX_ATTEMPTS, retryMode: 'standard' });
}
