// The maintenance state machine of one collection, as state-machines/maintenance.asl.json runs
// it (a test holds the two together). A daily schedule per collection starts it.
//
//   Expire → CollectGarbage → Report → EmitMaintenanceCompleted
//   any failure: DescribeFailure → EmitMaintenanceFailed → MaintenanceFailed
import { expireStep } from '../maintenance/expire-step.ts';
import { gcStep } from '../maintenance/gc-step.ts';
import { step } from './step.ts';

export const MAINTENANCE_PIPELINE = [
  step(
    'Expire',
    'MaintenanceExpire',
    expireStep,
    "applies the collection's retention rules: tombstones, then the catalog",
  ),
  step('CollectGarbage', 'MaintenanceGc', gcStep, 'under the maintenance lease, deletes what no restore point needs'),
];
