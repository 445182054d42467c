/**
 * A compute's connection as the panel shows it: the parts of its mysql:// URL and a ready `mariadb`
 * command. Pure, so the browser and the tests build the same command.
 */
import { z } from 'zod';

export interface Connection {
  host: string;
  port: number;
  user: string;
  /** Only in an admin's answer; a viewer's URL never carries it (the server strips it). */
  password: string | null;
  database: string | null;
}

const parts = z.object({
  protocol: z.literal('mysql:'),
  hostname: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65_535),
  username: z.string().min(1),
  password: z.string(),
  pathname: z.string(),
});

/** The parts of `mysql://user[:password]@host:port[/db]`, or null for anything else. */
export function parseConnection(url: string): Connection | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const r = parts.safeParse({ protocol: u.protocol, hostname: u.hostname, port: u.port || '3306', username: u.username, password: u.password, pathname: u.pathname });
  if (!r.success) return null;
  const database = decodeURIComponent(r.data.pathname.replace(/^\//, ''));
  return {
    host: r.data.hostname,
    port: r.data.port,
    user: decodeURIComponent(r.data.username),
    password: r.data.password ? decodeURIComponent(r.data.password) : null,
    database: database || null,
  };
}

/** A shell word: bare when it is safe, else single-quoted (a password may hold anything). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `mariadb -h HOST -P PORT -u USER` with the password inline only when asked (a revealed panel);
 * otherwise `-p`, which makes the client prompt for it.
 */
export function mariadbCommand(c: Connection, withPassword: boolean): string {
  const words = ['mariadb', '-h', c.host, '-P', String(c.port), '-u', shellQuote(c.user)];
  words.push(withPassword && c.password !== null ? `--password=${shellQuote(c.password)}` : '-p');
  if (c.database) words.push(shellQuote(c.database));
  return words.join(' ');
}

/** The URL as it may be shown before a reveal: everything but the password. */
export function urlWithoutPassword(c: Connection): string {
  return `mysql://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${c.database ? encodeURIComponent(c.database) : ''}`;
}
