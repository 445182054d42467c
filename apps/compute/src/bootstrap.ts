/**
 * A new database's first datadir: `mariadb-install-db`, then one private
 * start of `mariadbd` (no network, socket only) to give root a password and
 * drop the anonymous accounts, then a slow shutdown so the result is the
 * cleanly shut down datadir that `tenant import` stores.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { loadComputeEnv } from './env.js';
import { ComputeError } from './errors.js';
import { describeExit, Mariadbd } from './mariadbd.js';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];

export const INSTALL_DB_PATH = loadComputeEnv().installDbPath;

export interface InitDatadirOptions {
  readonly datadir: string;
  /** Socket, pid and error log of the private start. */
  readonly runDir: string;
  readonly rootPassword: string;
  /** A small log keeps basebackups small (computes run on a larger one of their own). */
  readonly logFileSize?: string;
  readonly timeoutMs?: number;
}

function installDb(o: InitDatadirOptions): Promise<void> {
  const args = [
    '--no-defaults',
    `--datadir=${o.datadir}`,
    '--user=root',
    '--auth-root-authentication-method=normal',
    `--innodb-log-file-size=${o.logFileSize ?? '8M'}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(INSTALL_DB_PATH, args, { timeout: o.timeoutMs ?? 120_000, maxBuffer: 16 << 20, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const hint = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (install the mariadb-server package)' : '';
      reject(new ComputeError('ComputeStartFailed', `${INSTALL_DB_PATH} failed${hint}: ${error.message.split('\n')[0]}\n${stdout}\n${stderr}`));
    });
  });
}

export async function initDatadir(o: InitDatadirOptions): Promise<void> {
  rmSync(o.datadir, { recursive: true, force: true });
  mkdirSync(o.runDir, { recursive: true });
  await installDb(o);
  // The controller's own user (root here): a private start without networking that runs only the statements below.
  const m = new Mariadbd({ datadir: o.datadir, runDir: o.runDir, port: 0, logFileSizeBytes: 8n << 20n, pageSize: 16384, bufferPoolSize: '64M', readOnly: false, osUser: undefined, extraArgs: ['--skip-networking'] });
  const socketPath = join(o.runDir, 'mysqld.sock');
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  // Loaded when used: every CLI command imports this module, and loading mysql2 costs ~90 ms.
  const { createConnection } = (await import('mysql2/promise')).default;
  let conn: mysql.Connection | undefined;
  try {
    while (!conn) {
      if (!m.running) throw new ComputeError('MariadbExited', `mariadbd ${describeExit(m.status!)} on the new datadir:\n${m.errorLogTail()}`);
      conn = await createConnection({ socketPath, user: 'root', password: '' }).catch(() => undefined);
      if (!conn) {
        if (Date.now() > deadline) throw new ComputeError('ComputeStartFailed', `mariadbd did not start on the new datadir:\n${m.errorLogTail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const [anon] = await conn.query<mysql.RowDataPacket[]>("SELECT Host FROM mysql.global_priv WHERE User = ''");
    for (const row of anon) await conn.query('DROP USER ?@?', ['', String(row['Host'])]);
    // install-db makes root@localhost, @127.0.0.1, @::1 and @<hostname>. A compute binds 127.0.0.1 only, so
    // the host-name account can never log in: it goes; the loopback ones get the password.
    const [roots] = await conn.query<mysql.RowDataPacket[]>("SELECT Host FROM mysql.global_priv WHERE User = 'root'");
    for (const row of roots) {
      const host = String(row['Host']);
      if (LOOPBACK_HOSTS.includes(host)) await conn.query('ALTER USER ?@? IDENTIFIED BY ?', ['root', host, o.rootPassword]);
      else await conn.query('DELETE FROM mysql.global_priv WHERE User = ? AND Host = ?', ['root', host]);
    }
    await conn.query('FLUSH PRIVILEGES');
    // A slow shutdown leaves nothing to recover or purge: the import's checkpoint is the datadir's end.
    await conn.query('SET GLOBAL innodb_fast_shutdown = 0');
    await conn.query('SHUTDOWN');
  } catch (e) {
    m.kill();
    throw e;
  } finally {
    conn?.destroy();
  }
  const exit = await m.exited;
  if (exit.code !== 0) throw new ComputeError('MariadbExited', `mariadbd ${describeExit(exit)} at the end of the bootstrap:\n${m.errorLogTail()}`);
}
