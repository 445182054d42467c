/**
 * The bearer header of a request to a Strata service. It lives in core (a
 * pure function, no I/O) so that the clients (@strata/client) and the
 * services' own outgoing calls (the page server's WAL receiver, the
 * safekeepers' calls to their peers, which must not depend on the client
 * package) share one definition.
 */

/** The `authorization` header's value for a token (`Bearer <token>`), or undefined without one: for callers that keep the value and send it later. */
export function bearerAuthorization(token: string | undefined): string | undefined {
  return token ? `Bearer ${token}` : undefined;
}

/** `Authorization: Bearer <token>`, or nothing without a token. */
export function authHeaders(token: string | undefined): Record<string, string> {
  const authorization = bearerAuthorization(token);
  return authorization ? { authorization } : {};
}
