/**
 * The bearer header of a request to a Strata service. It lives in core (a
 * pure function, no I/O) so that the clients (@strata/client) and the
 * services' own outgoing calls (the page server's WAL receiver, which must
 * not depend on the client package) share one definition.
 */

/** `Authorization: Bearer <token>`, or nothing without a token. */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
