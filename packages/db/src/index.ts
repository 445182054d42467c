export { createDb, sharedDb, type Db, type DbOrTx, type CreateDbOptions } from './client.js';
export { DbError, AlreadyExists, NotFound } from './errors.js';
export * from './repositories/operators.js';
export * from './repositories/sessions.js';
export * from './repositories/clusters.js';
export * from './repositories/tenants.js';
export * from './repositories/operations.js';
export * from './repositories/metrics.js';

/** Runs `fn` in one transaction; repositories called with its argument share it. */
export { inTransaction } from './transaction.js';
