/**
 * Operators and sessions. Passwords are hashed with argon2id (@node-rs/argon2);
 * a session is a random 256-bit token in an HttpOnly cookie, of which only the
 * SHA-256 is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import {
  countOperators,
  createOperator,
  createSession,
  deleteExpiredSessions,
  deleteOperator,
  deleteSessionByTokenHash,
  deleteSessionsOf,
  findLiveSession,
  findOperatorById,
  findOperatorCredentials,
  listOperators,
  touchSession,
  updateOperatorPassword,
  updateOperatorRole,
  type OperatorRole,
  type OperatorRow,
} from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { ConsoleError, conflict, notFound } from './errors';

export const SESSION_COOKIE = 'strata_session';
export const PASSWORD_LENGTH_MIN = 8;

export interface SignedIn {
  operator: OperatorRow;
  tokenHash: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export const hashPassword = (password: string) => hash(password);

// Verifying against a fixed hash when the user does not exist keeps the timing of "no such user" and "wrong password" alike.
let dummyHash: Promise<string> | undefined;

export async function signIn(
  deps: ConsoleDeps,
  username: string,
  password: string,
  address: string | null = null,
): Promise<{ token: string; expiresAt: Date; operator: OperatorRow }> {
  const attempt = { username, address };
  // Before the password is looked at: while locked, the right password is refused too, so guessing learns nothing.
  deps.signInLimiter.check(attempt);
  const creds = await findOperatorCredentials(deps.db, username);
  dummyHash ??= hash('not a password of anyone');
  const ok = await verify(creds?.passwordHash ?? (await dummyHash), password).catch(() => false);
  if (!creds || !ok) {
    deps.signInLimiter.failed(attempt);
    throw new ConsoleError('UNAUTHENTICATED', 'wrong username or password');
  }
  deps.signInLimiter.succeeded(attempt);
  const token = randomBytes(32).toString('base64url');
  const now = deps.now();
  const expiresAt = new Date(now.getTime() + deps.sessionTtlMs);
  await deleteExpiredSessions(deps.db, now);
  await createSession(deps.db, { tokenHash: sha256(token), operatorId: creds.id, expiresAt });
  const { passwordHash: _omit, ...operator } = creds;
  return { token, expiresAt, operator };
}

/** The operator behind a session cookie, sliding its expiry; null when absent or expired. */
export async function sessionOperator(deps: ConsoleDeps, token: string | undefined): Promise<SignedIn | null> {
  if (!token) return null;
  const tokenHash = sha256(token);
  const now = deps.now();
  const s = await findLiveSession(deps.db, tokenHash, now);
  if (!s) return null;
  await touchSession(deps.db, s.id, now, new Date(now.getTime() + deps.sessionTtlMs));
  return { operator: s.operator, tokenHash };
}

export async function signOut(deps: ConsoleDeps, tokenHash: string): Promise<void> {
  await deleteSessionByTokenHash(deps.db, tokenHash);
}

export async function addOperator(deps: ConsoleDeps, input: { username: string; password: string; role: OperatorRole }): Promise<OperatorRow> {
  return createOperator(deps.db, { username: input.username, passwordHash: await hashPassword(input.password), role: input.role });
}

export const operatorsList = (deps: ConsoleDeps) => listOperators(deps.db);

/** Role changes and removals never leave the console without an admin. */
async function assertAdminRemains(deps: ConsoleDeps, id: string, nextRole: OperatorRole | null): Promise<OperatorRow> {
  const op = await findOperatorById(deps.db, id);
  if (!op) throw notFound(`operator ${id}`);
  if (op.role === 'admin' && nextRole !== 'admin' && (await countOperators(deps.db, 'admin')) <= 1) {
    throw conflict(`${op.username} is the last admin`);
  }
  return op;
}

export async function setOperatorRole(deps: ConsoleDeps, id: string, role: OperatorRole): Promise<OperatorRow> {
  await assertAdminRemains(deps, id, role);
  return updateOperatorRole(deps.db, id, role);
}

export async function removeOperator(deps: ConsoleDeps, id: string): Promise<void> {
  await assertAdminRemains(deps, id, null);
  await deleteOperator(deps.db, id);
}

export async function setOperatorPassword(deps: ConsoleDeps, id: string, password: string): Promise<void> {
  await updateOperatorPassword(deps.db, id, await hashPassword(password));
  // A new password ends the sessions the old one opened.
  await deleteSessionsOf(deps.db, id);
}

/**
 * The first admin: created with `password` when no operator exists yet, else its password is
 * reset to `password` so the launcher's printed credentials always work.
 */
export async function ensureAdmin(deps: ConsoleDeps, username: string, password: string): Promise<void> {
  const existing = await findOperatorCredentials(deps.db, username);
  if (!existing) {
    await createOperator(deps.db, { username, passwordHash: await hashPassword(password), role: 'admin' });
    return;
  }
  if (!(await verify(existing.passwordHash, password).catch(() => false))) {
    await updateOperatorPassword(deps.db, existing.id, await hashPassword(password));
  }
  if (existing.role !== 'admin') await updateOperatorRole(deps.db, existing.id, 'admin');
}
