// The one Powertools logger of a task function's container: the handler's step lines and the
// Lambda context's connection lines share it (and its keys).
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'tidemark' });
