/**
 * tRPC setup: the context (deps, the signed-in operator, a cookie writer),
 * procedures by role, and the one place domain errors become TRPCErrors.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { DbError } from '@strata/db';
import type { ConsoleDeps } from './deps';
import { ConsoleError, type ConsoleErrorCode } from './services/errors';
import type { SignedIn } from './services/auth';
import { redactSecrets } from './services/secrets';
import { describeIssues } from '../lib/inputs';

export interface CookieWriter {
  setSession(token: string, expiresAt: Date): void;
  clearSession(): void;
}

export interface Context {
  deps: ConsoleDeps;
  session: SignedIn | null;
  cookies: CookieWriter;
  /** The client's address, for sign-in throttling; null for callers inside the process. */
  clientAddress: string | null;
}

const CODE: Record<ConsoleErrorCode, TRPC_ERROR_CODE_KEY> = {
  UNAUTHENTICATED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INVALID: 'BAD_REQUEST',
  NO_CLUSTER: 'PRECONDITION_FAILED',
  SERVICE_ERROR: 'BAD_GATEWAY',
  SERVICE_UNREACHABLE: 'SERVICE_UNAVAILABLE',
  CLI_FAILED: 'BAD_GATEWAY',
  QUERY_FAILED: 'BAD_REQUEST',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
};

export interface StrataErrorData {
  code: string;
  service: string | null;
  serviceCode: string | null;
}

interface Issue {
  path: readonly PropertyKey[];
  message: string;
}

/** An input that failed its schema (zod, or any Standard Schema): its issues, else null. */
function schemaIssues(cause: unknown): Issue[] | null {
  if (!(cause instanceof Error)) return null;
  const issues = (cause as { issues?: unknown }).issues;
  return Array.isArray(issues) ? (issues as Issue[]).map((i) => ({ path: (i.path ?? []).map((p) => (typeof p === 'object' && p !== null && 'key' in p ? (p as { key: PropertyKey }).key : p)), message: String(i.message) })) : null;
}

/** Domain error → TRPCError; the domain error stays the cause so the formatter can pass its details on. */
export function toTRPCError(e: unknown): TRPCError | undefined {
  if (e instanceof ConsoleError) {
    // A service's own 4xx keeps its meaning (an LSN out of range is the caller's mistake, not a bad gateway).
    const status = e.details.httpStatus;
    const code: TRPC_ERROR_CODE_KEY =
      e.code === 'SERVICE_ERROR' && status === 400 ? 'BAD_REQUEST' : e.code === 'SERVICE_ERROR' && status === 404 ? 'NOT_FOUND' : e.code === 'SERVICE_ERROR' && status === 409 ? 'CONFLICT' : CODE[e.code];
    return new TRPCError({ code, message: e.message, cause: e });
  }
  if (e instanceof DbError) {
    const code: TRPC_ERROR_CODE_KEY = e.code === 'ALREADY_EXISTS' ? 'CONFLICT' : e.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INTERNAL_SERVER_ERROR';
    return new TRPCError({ code, message: e.message, cause: e });
  }
  return undefined;
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    // A refused input is told in words, field by field (its raw form is JSON with the schema's regexes in it).
    const issues = error.code === 'BAD_REQUEST' ? schemaIssues(cause) : null;
    const fields = issues ? Object.fromEntries(issues.toReversed().map((i) => [i.path.map(String).join('.'), i.message])) : null;
    const strata: StrataErrorData | null = issues
      ? { code: 'INVALID', service: null, serviceCode: null }
      : cause instanceof ConsoleError
        ? { code: cause.code, service: cause.details.service ?? null, serviceCode: cause.details.serviceCode ?? null }
        : cause instanceof DbError
          ? { code: cause.code, service: null, serviceCode: null }
          : null;
    const message = issues ? describeIssues(issues) : shape.message;
    // A CLI's failure quotes its output, which may hold a connection URL with its password.
    return { ...shape, message: redactSecrets(message), data: { ...shape.data, stack: undefined, strata, fields } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const mapErrors = t.middleware(async ({ next }) => {
  const r = await next();
  if (!r.ok) {
    const mapped = toTRPCError(r.error.cause);
    if (mapped) throw mapped;
  }
  return r;
});

export const publicProcedure = t.procedure.use(mapErrors);

/** Signed in, any role: viewers see. */
export const viewerProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
  return next({ ctx: { ...ctx, session: ctx.session } });
});

/** Admins act: every mutation of the cluster or of operators goes through here. */
export const adminProcedure = viewerProcedure.use(({ ctx, next }) => {
  if (ctx.session.operator.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: `${ctx.session.operator.username} is a viewer; only admins can do this` });
  return next({ ctx });
});
