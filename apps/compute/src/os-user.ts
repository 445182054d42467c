/**
 * The OS account mariadbd runs as. A compute controller started as root
 * must not hand root to the database: `SELECT LOAD_FILE('/etc/passwd')`,
 * `INTO OUTFILE` and every UDF would act with root's rights on the host.
 * So, as root, mariadbd is exec'd as an unprivileged user (Debian's `mysql`)
 * that owns only the compute's datadir and run directory. As any other user
 * the controller is already unprivileged and mariadbd simply inherits it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ComputeError } from './errors.js';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function lookupUser(name: string): OsUser | undefined {
  // getent asks NSS, so accounts from LDAP or systemd-userdb are found like /etc/passwd ones.
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const fields = r.stdout.trim().split(':');
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name, uid, gid };
}

/**
 * The user to drop to, or undefined when the controller is not root (it is
 * already unprivileged). As root, the account must exist and must not be
 * root itself: running mariadbd as root is what this module prevents.
 */
export function mariadbdOsUser(name: string): OsUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = lookupUser(name);
  if (!user) {
    throw new ComputeError('ComputeStartFailed', `mariadbd must not run as root and there is no OS user "${name}" to run it as (install mariadb-server, which creates "mysql", or set STRATA_MARIADBD_USER)`);
  }
  if (user.uid === 0) throw new ComputeError('ComputeStartFailed', `STRATA_MARIADBD_USER "${name}" is root: mariadbd must run as an unprivileged user`);
  return user;
}

function chownTree(path: string, user: OsUser): void {
  chownSync(path, user.uid, user.gid);
  const st = lstatSync(path);
  if (!st.isDirectory()) return;
  for (const e of readdirSync(path)) {
    const child = join(path, e);
    // A symlink's target is not ours to give away: only the link itself changes owner.
    if (lstatSync(child).isSymbolicLink()) continue;
    chownTree(child, user);
  }
}

/** Whether `user` may search (traverse) directory `dir`, from its mode bits (ACLs are not used here). */
function maySearch(dir: string, user: OsUser): boolean {
  const st = statSync(dir);
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

function isInside(path: string, root: string): boolean {
  const r = relative(resolve(root), resolve(path));
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/**
 * Makes `paths` (the datadir, the run directory) the user's, and every
 * directory above them searchable by it: mariadbd opens its files by
 * absolute path, so it needs search (x) on each ancestor. Only ancestors
 * inside `openableRoots` (the cluster's home, the temp directory) are
 * changed, and only by adding the search bit for others — never read, so
 * nobody can list them; the secrets inside are 0600. An ancestor elsewhere
 * that the user cannot search is an error that names it.
 */
export function handOver(user: OsUser, paths: readonly string[], openableRoots: readonly string[]): void {
  const roots = [...openableRoots, tmpdir()];
  for (const p of paths) {
    const abs = resolve(p);
    const chain: string[] = [];
    for (let d = dirname(abs); ; d = dirname(d)) {
      chain.unshift(d);
      if (dirname(d) === d) break;
    }
    for (const dir of chain) {
      if (maySearch(dir, user)) continue;
      const st = statSync(dir);
      if (st.uid !== process.getuid?.() || !roots.some((r) => isInside(dir, r))) {
        throw new ComputeError(
          'ComputeStartFailed',
          `mariadbd runs as the unprivileged user "${user.name}", which cannot enter ${dir} (mode ${(st.mode & 0o7777).toString(8)}): put the compute's directory where ${user.name} can reach it (STRATA_HOME or --data), or run chmod o+x ${dir}`,
        );
      }
      chmodSync(dir, (st.mode & 0o7777) | 0o001);
    }
    chownTree(abs, user);
  }
}
