/**
 * A local cluster (`$STRATA_HOME`) as the CLI and the console both drive it:
 * the registry (cluster.json), branches, snapshots, membership changes and
 * computes, over the services' typed clients. Node-only (files, processes):
 * imported as `@strata/client/local` by server code, never by a browser bundle.
 */
export * from './errors.js';
export * from './state.js';
export * from './branches.js';
export * from './snapshots.js';
export * from './membership.js';
export * from './compute-records.js';
export * from './computes.js';
export * from './timeline-members.js';
export { MembershipChangeFailed, type MembershipProgress, type MembershipChangeResult } from '../membership-driver.js';
export * from './daemons.js';
export * from './keys.js';
export * from './ports.js';
export * from './services.js';
export * from './safekeeper-nodes.js';
