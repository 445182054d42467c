/** Input shapes shared by services and routers: the forms' own schemas (src/lib/inputs.ts), so both check the same. */
export { branchName, hexId, isoTime, lsnInput, pastIsoTime, snapshotName } from '../../lib/inputs';
