/**
 * The signed-in operator of the request a server component renders: the same cookie and the same
 * lookup as the /api/trpc route, resolved once per request (the layout and the page share it).
 */
import { cookies } from 'next/headers';
import { cache } from 'react';
import { serverDeps } from '../../server/deps';
import { SESSION_COOKIE, sessionOperator, type SignedIn } from '../../server/services/auth';

export type ServerSession =
  | { state: 'signed-in'; signedIn: SignedIn }
  | { state: 'signed-out' }
  /** The lookup failed (database down, bad environment): nothing may be assumed, the browser asks again. */
  | { state: 'unknown' };

export const serverSession = cache(async (): Promise<ServerSession> => {
  // Outside the try: reading cookies is what makes Next render per request instead of prerendering,
  // and it signals that by throwing, which must reach Next.
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return { state: 'signed-out' };
  try {
    const signedIn = await sessionOperator(serverDeps(), token);
    return signedIn ? { state: 'signed-in', signedIn } : { state: 'signed-out' };
  } catch {
    return { state: 'unknown' };
  }
});
