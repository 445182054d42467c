/**
 * Secrets never leave the server in what a viewer can read. The database
 * password travels inside connection URLs (`mysql://root:<password>@…`),
 * which the CLI prints and operations record: these helpers take it out.
 */

/** A connection URL without its password (the user, host and port stay: they are what a viewer needs to know). */
export function withoutPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL at all: scrub any credentials-shaped part rather than pass it on.
    return redactSecrets(url);
  }
  u.password = '';
  return u.toString();
}

// `scheme://user:password@` in any text: a CLI's output, an error message, a step's detail.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi;

/** Every `scheme://user:password@` in `text` becomes `scheme://user@`. */
export function redactSecrets(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1@');
}

/** `redactSecrets` over every string inside a JSON-like value (operation inputs and results). */
export function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)]));
  return value;
}
