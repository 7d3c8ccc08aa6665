// What each task of the maintenance machine is given (state-machines/maintenance.asl.json; see
// backup/task-inputs.ts for why the schemas are kept together). Expire gets the execution input
// unchecked and names what is missing itself (expire-step.ts).
import { z } from 'zod';

export const ExpireInputSchema = z.strictObject({ input: z.unknown() });

/** CollectGarbage: the collection Expire reported (gc itself covers the whole repository). */
export const GcInputSchema = z.strictObject({ collection: z.string().min(1) });
