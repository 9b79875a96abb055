/**
 * Every step of the schema, in order. Append only: a released step is never edited, because
 * databases in the field have run it. To change the schema, add a file NNNN_what.ts next to
 * 0001_initial.ts with the next number, SQL for both databases, and list it at the end here.
 */
import { initial } from './0001_initial';
import { escrow } from './0002_escrow';
import { cluster } from './0003_cluster';
import { access } from './0004_access';
import { operations } from './0005_operations';
import { leaseCharges } from './0006_lease_charges';
import type { Migration } from './migration';

export type { Migration } from './migration';

export const migrations: readonly Migration[] = [
  initial,
  escrow,
  cluster,
  access,
  operations,
  leaseCharges,
];
