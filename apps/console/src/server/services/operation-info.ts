/**
 * What the operations log says of an operation besides its kind: what it acted on (so two
 * "branch.create" rows can be told apart) and whether retrying a failure could succeed. Pure.
 */

/**
 * Failures a retry with the same input can only repeat: the input or the cluster's state is the
 * cause (a name taken, a branch with children, a bad LSN), not a service that was down or slow.
 */
const FINAL_CODES = new Set([
  'CONFLICT',
  'INVALID',
  'NOT_FOUND',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'NO_CLUSTER',
  'QUERY_FAILED',
  // Services' own codes for a caller's mistake.
  'BAD_REQUEST',
  'LSN_OUT_OF_RANGE',
  'LSN_BEFORE_GC_HORIZON',
  'TIMELINE_NOT_FOUND',
  'TENANT_NOT_FOUND',
  'ALREADY_EXISTS',
]);

/** Kinds the log records but that cannot be re-run from it (a time-travel query answers its caller). */
const NOT_RERUNNABLE_KINDS = new Set(['timetravel.query']);

export function isRetryable(kind: string, errorCode: string | null): boolean {
  if (NOT_RERUNNABLE_KINDS.has(kind)) return false;
  if (errorCode === null) return true;
  return !FINAL_CODES.has(errorCode) && !/_(NOT_FOUND|EXISTS|CONFLICT)$/.test(errorCode);
}

function field(input: unknown, key: string): string | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const v = (input as Record<string, unknown>)[key];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

/** `at LSN n`, `at <time>` or `at head`: the point in time an input names. */
function point(input: unknown): string {
  const lsn = field(input, 'lsn');
  const at = field(input, 'at');
  return lsn !== undefined ? `at LSN ${lsn}` : at !== undefined ? `at ${at}` : 'at head';
}

/** What an operation acted on, in a few words, from its kind and recorded input; null when it names nothing. */
export function operationTarget(kind: string, input: unknown): string | null {
  const name = field(input, 'name');
  const branch = field(input, 'branch');
  switch (kind) {
    case 'branch.create':
      return `branch ${name} from ${field(input, 'from')} ${point(input)}`;
    case 'branch.restore':
      return `branch ${name} to ${point(input).slice(3)} (backup ${field(input, 'backupName')})`;
    case 'branch.delete':
    case 'branch.reset':
      return `branch ${name}`;
    case 'compute.start':
      return input !== null && typeof input === 'object' && (input as { readOnly?: unknown }).readOnly === true ? `branch ${branch}, read-only ${point(input)}` : `branch ${branch}`;
    case 'compute.stop':
      return `compute ${name}`;
    case 'snapshot.create':
      return `snapshot ${name} of ${branch} ${point(input)}`;
    case 'snapshot.restore':
      return `snapshot ${name} as branch ${branch}`;
    case 'snapshot.delete':
      return `snapshot ${name}`;
    case 'safekeepers.membership': {
      const members = input !== null && typeof input === 'object' ? (input as { members?: unknown }).members : undefined;
      return `timeline ${field(input, 'timelineId')?.slice(0, 8)} → [${Array.isArray(members) ? members.join(',') : ''}]`;
    }
    case 'safekeepers.remove':
      return `safekeeper ${field(input, 'nodeId')}`;
    case 'pageserver.gc':
    case 'pageserver.compact':
      return `timeline ${field(input, 'timelineId')?.slice(0, 8)}`;
    case 'tenant.create':
      return `tenant ${name}`;
    case 'tenant.delete':
      return `tenant ${field(input, 'id')?.slice(0, 8)}`;
    case 'timetravel.query':
      return `branch ${branch} ${point(input)}`;
    default:
      return name ?? branch ?? null;
  }
}
