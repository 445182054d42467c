import { serverDeps } from '../../../../server/deps';
import { createTrpcHandler } from '../../../../server/http-handler';
import { startScraper } from '../../../../server/services/metrics';

export const dynamic = 'force-dynamic';

const holder = globalThis as typeof globalThis & { __strataScraper?: () => void; __strataTrpcHandler?: (req: Request) => Promise<Response> };

function handler(req: Request): Promise<Response> {
  const deps = serverDeps();
  // The scraper lives in the server process; the first request starts it.
  holder.__strataScraper ??= startScraper(deps);
  holder.__strataTrpcHandler ??= createTrpcHandler(deps);
  return holder.__strataTrpcHandler(req);
}

export { handler as GET, handler as POST };
