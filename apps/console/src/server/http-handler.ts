/**
 * The console's one HTTP entry (`/api/trpc/*`): the session from the cookie,
 * the client's address (for sign-in throttling), and the cross-site request guard, in front of the
 * tRPC fetch adapter. Built over deps so a test serves real requests from it.
 *
 * The guard, for every request that can change something (anything but
 * GET/HEAD/OPTIONS; tRPC runs mutations on POST only):
 *   - the body must be `application/json`. The fetch adapter would also take
 *     multipart and other bodies, which a plain HTML form can send anywhere
 *     without a CORS preflight; JSON from another origin needs a preflight,
 *     which this server never grants.
 *   - a browser's `Origin` must be this server's own, and `Sec-Fetch-Site`,
 *     when sent, must be `same-origin`. SameSite=Lax cookies are no defence
 *     on their own: every port of 127.0.0.1 is the same *site*, so a page on
 *     any other local port would ride along with the operator's cookie.
 * A request with neither header is not from a browser (curl, the e2e API
 * client), and only a browser can be made to carry someone's cookie.
 */
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { ConsoleDeps } from './deps';
import { appRouter } from './routers/_app';
import { SESSION_COOKIE, sessionOperator } from './services/auth';
import type { Context } from './trpc';

function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why `req` is refused as a possible cross-site request, or null when it may proceed. */
export function crossSiteRefusal(req: Request): string | null {
  if (SAFE_METHODS.has(req.method)) return null;
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return `mutations take application/json only, not ${type || 'no content type'}`;
  const site = req.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin') return `a ${site} request may not change anything`;
  const origin = req.headers.get('origin');
  if (origin !== null) {
    // The Host header is what the browser addressed; behind a proxy that rewrites it, the proxy's forwarded host.
    const host = req.headers.get('x-forwarded-host') ?? req.headers.get('host');
    let originHost: string | null = null;
    try {
      originHost = origin === 'null' ? null : new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || originHost !== host) return `origin ${origin} is not this console`;
  }
  return null;
}

/** The per-address sign-in key of every client when the console cannot tell its clients apart. */
export const DIRECT_CLIENT = 'direct';

/**
 * The client's address, the key of the per-address sign-in limit.
 *
 * Behind a trusted proxy it is the last X-Forwarded-For entry: the address
 * the proxy saw, which it sets or appends; entries before it are whatever
 * the client sent. Without one, the header is the client's to choose (Next
 * fills it from the socket only when the client sent none, and keeps it
 * otherwise), so a guesser would get a fresh address per request. A route
 * handler sees a web Request, not the socket, so there is no address of our
 * own to use: every direct client shares one key. The console listens on
 * loopback by default, where every client has the same address anyway.
 */
export function clientAddress(req: Request, trustedProxy: boolean): string {
  if (!trustedProxy) return DIRECT_CLIENT;
  const last = req.headers.get('x-forwarded-for')?.split(',').at(-1)?.trim();
  return last ? last : DIRECT_CLIENT;
}

function refused(reason: string): Response {
  // tRPC's error shape, so the browser's client reports it like any other refusal.
  const body = { error: { message: reason, code: -32003, data: { code: 'FORBIDDEN', httpStatus: 403, strata: { code: 'CROSS_SITE', service: null, serviceCode: null } } } };
  return new Response(JSON.stringify(body), { status: 403, headers: { 'content-type': 'application/json' } });
}

export function createTrpcHandler(deps: ConsoleDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    const refusal = crossSiteRefusal(req);
    if (refusal) return refused(refusal);
    return fetchRequestHandler({
      endpoint: '/api/trpc',
      req,
      router: appRouter,
      async createContext({ resHeaders }): Promise<Context> {
        const secure = deps.secureCookie ? '; Secure' : '';
        return {
          deps,
          session: await sessionOperator(deps, cookieValue(req.headers.get('cookie'), SESSION_COOKIE)),
          clientAddress: clientAddress(req, deps.trustedProxy),
          cookies: {
            setSession(token, expiresAt) {
              resHeaders.append('set-cookie', `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Expires=${expiresAt.toUTCString()}${secure}`);
            },
            clearSession() {
              resHeaders.append('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure}`);
            },
          },
        };
      },
    });
  };
}
