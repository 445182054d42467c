/** The CLI's usage text, the argument helpers and the error-to-exit-status rules every command shares (no heavy imports: the redo bundle uses them). */
import { StrataError } from '@strata/core';
import { lsnString } from '@strata/core/json';
export const USAGE = `usage: strata <command>

  up [--s3] [--no-console]             start (or resume) the local cluster in STRATA_HOME (default .strata) in the background
  down                                 stop every process of the local cluster (data stays)
  status                               every node, term, LSNs and lag of the local cluster
  branch create --from NAME --name NEW (--lsn L | --at ISO-TIME)
                                       branch the local cluster; prints "branch NEW timeline <id> lsn <L>"
  branch list | branch delete NAME
  branch set --branch NAME (--idle-minutes N | --idle-seconds N)
                                       how long the branch's endpoint lets a compute it started idle
                                       before stopping it (default 5 minutes; 0 = never)
  snapshot create --branch NAME --name SNAP [--lsn L] | snapshot list | snapshot delete SNAP
  snapshot restore SNAP --name NEWBRANCH
  compute start --branch NAME [--read-only [--lsn L | --at ISO-TIME]]
                                       a compute on a local branch, in the background
  compute stop --branch NAME | --name N
  safekeeper --id N --listen H:P --data DIR [--remote-storage URL]
                                       run one safekeeper in the foreground
  safekeeper membership --safekeepers H:P,... --tenant T --timeline TL --members N,N,N [--timeout-ms MS]
                                       change a timeline's safekeepers (addresses of old and new members;
                                       on the local cluster: --branch NAME --members N,N,N)
  safekeeper add                       a new safekeeper node for the local cluster; prints "safekeeper N URL"
  safekeeper remove N                  stop and unregister a node no branch's timeline names any more"
  wal push --safekeepers H:P,H:P,H:P --tenant T --timeline TL --log FILE [--from LSN] [--max-mib-per-sec N]
                                       append a redo log's mtrs to the safekeeper quorum
  wal read --safekeeper H:P --tenant T --timeline TL --from LSN [--to LSN] --out FILE
                                       write committed redo bytes of a range to a file
  pageserver --listen H:P --data DIR --safekeepers H:P,H:P,H:P [--remote-storage URL]
                                       run the page server in the foreground
  tenant import --pageserver H:P --datadir DIR [--tenant T]
                                       store a cleanly shut down datadir as a new tenant
  wait-lsn --pageserver H:P --tenant T --timeline TL --lsn L [--timeout-ms MS]
                                       return once the page server has ingested L
  page get --pageserver H:P --tenant T --timeline TL --space S --page P --lsn L --out FILE [--wait-ms MS]
                                       write one page as of an LSN to a file
  basebackup --pageserver H:P --tenant T --timeline TL [--lsn L] --out DIR [--wait-ms MS]
                                       unpack a datadir at an LSN (default: the last ingested)
  branch create --pageserver H:P --tenant T --from TL (--lsn L | --at ISO-TIME) [--timeline NEW]
                                       branch a timeline at an LSN of any page server
  compute start --pageserver H:P --safekeepers H:P,H:P,H:P --tenant T --timeline TL [--port P] [--data DIR] [--name N]
                [--read-only [--lsn L]] [--control-port P] [--safekeeper-directory H:P,...|@FILE] [--auth-public-key FILE]
                [--storage basebackup|fuse|auto]   (fuse: the datadir served from the page server, COMMIT once in the quorum)
                [--lfc-mib N] [--buffer-pool-mib N]   (FUSE local file cache, default 256; InnoDB buffer pool)
                                       run a MariaDB compute on a timeline in the foreground (SIGTERM = clean stop);
                                       with a key, its control port takes only admin tokens signed by it;
                                       prints "compute NAME mysql://USER:PASSWORD@127.0.0.1:PORT/" once it takes queries
  compute list                         computes recorded under STRATA_HOME (default .strata), then each branch
                                       endpoint: "endpoint NAME port P stopped|starting|active|idle|stopping ..."
  endpoints run                        the branch endpoints' proxy in the foreground (up starts it, down stops it):
                                       a connection to a branch's endpoint starts its compute; an idle one stops
  compute stop --name N                clean stop of a compute recorded under STRATA_HOME
  redo dump <ib_logfile0> [--from LSN] [--json] [--page-size N]
                                       print every mini-transaction of a redo log
  redo apply --base DIR --log FILE --out DIR [--until-lsn N] [--aux-from DIR] [--jobs N] [--page-cache-mib M]
                                       replay a redo log onto a copy of a datadir (N threads, default 2;
                                       M MiB of pages per thread, default 32)
`;

/** A command line the CLI cannot run: printed with the usage, exit status 64. */
export class UsageError extends StrataError {
  readonly code = 'USAGE' as const;
  override readonly name = 'UsageError';
}

/** node:util parseArgs' own errors (unknown flag, missing value) are usage errors too. */
export function isParseArgsError(e: unknown): e is Error {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS');
}

/** A decimal LSN flag, checked by the one LSN schema (a u64: what does not fit is refused, not wrapped). */
export function parseLsn(v: string | undefined, flag: string): bigint | undefined {
  if (v === undefined) return undefined;
  const r = lsnString.safeParse(v);
  if (!r.success) throw new UsageError(`${flag} takes a decimal LSN (below 2^64), got "${v}"`);
  return r.data;
}

export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/**
 * How the errors every command can meet end the process: usage errors with
 * the usage text (64), domain errors with their code (1), system errors with
 * their message (1). Undefined for anything else (a bug: the caller rethrows).
 */
export function exitStatusFor(e: unknown): number | undefined {
  if (e instanceof UsageError || isParseArgsError(e)) {
    process.stderr.write(`strata: ${e.message}\n\n${USAGE}`);
    return 64;
  }
  if (e instanceof StrataError) {
    process.stderr.write(`strata: ${e.code}: ${e.message}\n`);
    return 1;
  }
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('E')) {
    process.stderr.write(`strata: ${e.message}\n`);
    return 1;
  }
  return undefined;
}
