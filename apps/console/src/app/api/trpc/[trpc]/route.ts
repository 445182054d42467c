import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { serverDeps } from '../../../../server/deps';
import { appRouter } from '../../../../server/routers/_app';
import { SESSION_COOKIE, sessionOperator } from '../../../../server/services/auth';
import { startScraper } from '../../../../server/services/metrics';
import type { Context } from '../../../../server/trpc';

export const dynamic = 'force-dynamic';

const scraper = globalThis as typeof globalThis & { __strataScraper?: () => void };

function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function handler(req: Request) {
  const deps = serverDeps();
  // The scraper lives in the server process; the first request starts it.
  scraper.__strataScraper ??= startScraper(deps);
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    async createContext({ resHeaders }): Promise<Context> {
      const secure = deps.secureCookie ? '; Secure' : '';
      return {
        deps,
        session: await sessionOperator(deps, cookieValue(req.headers.get('cookie'), SESSION_COOKIE)),
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
}

export { handler as GET, handler as POST };
