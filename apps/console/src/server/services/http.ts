/**
 * Calls to the storage services' admin APIs with the cluster's admin token,
 * through the services' shared client: the typed page server calls of
 * @strata/client/pageserver-api (`callClient`), and plain JSON requests
 * (`callService`, @strata/client/http: the same requests, deadlines and
 * error decoding as the compute and the CLI) for what has no typed call. A
 * service's typed error (`{code, message}`) becomes a ConsoleError that
 * keeps the service's code, so the browser shows it as the service said it.
 */
import { parseErrorReply, serviceRequest, ServiceClientError } from '@strata/client/http';
import { z } from 'zod';
import { ConsoleError } from './errors';

export interface ServiceTarget {
  /** For messages: "pageserver", "safekeeper 2", "compute main". */
  label: string;
  url: string;
  token: string | undefined;
}

/** A page waits on these calls: a service that does not answer within this is shown as such (import and delete take longer). */
export const TIMEOUT_MS_DEFAULT = 5_000;

export async function callService<T extends z.ZodType>(
  target: ServiceTarget,
  path: string,
  schema: T,
  options: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown; timeoutMs?: number } = {},
): Promise<z.infer<T>> {
  const text = await callServiceText(target, path, options);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConsoleError('SERVICE_ERROR', `${target.label}: ${path} answered non-JSON`, { service: target.label });
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    throw new ConsoleError('SERVICE_ERROR', `${target.label}: unexpected answer from ${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { service: target.label });
  }
  return r.data;
}

export async function callServiceText(
  target: ServiceTarget,
  path: string,
  options: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown; timeoutMs?: number } = {},
): Promise<string> {
  let res: Response;
  try {
    res = await serviceRequest(target, path, {
      method: options.method ?? 'GET',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      timeoutMs: options.timeoutMs ?? TIMEOUT_MS_DEFAULT,
    });
  } catch (e) {
    if (!(e instanceof ServiceClientError)) throw e;
    throw new ConsoleError('SERVICE_UNREACHABLE', `${target.label} at ${target.url} is unreachable: ${e.message}`, { service: target.label });
  }
  const text = await res.text();
  if (!res.ok) {
    // The services' error shape ({code, message}), else the raw text.
    const e = parseErrorReply(text);
    throw new ConsoleError('SERVICE_ERROR', `${target.label}: ${e ? `${e.code}: ${e.message}` : text.slice(0, 500)}`, { service: target.label, ...(e ? { serviceCode: e.code } : {}), httpStatus: res.status });
  }
  return text;
}

/**
 * One call of a typed client (`@strata/client/pageserver-api`) with the
 * console's errors: the same codes and details as callService gives, so a
 * failure shows the same whichever way the console asked.
 */
export async function callClient<T>(target: ServiceTarget, what: string, call: (t: ServiceTarget) => Promise<T>): Promise<T> {
  try {
    return await call(target);
  } catch (e) {
    throw consoleErrorOf(target, what, e);
  }
}

function consoleErrorOf(target: ServiceTarget, what: string, e: unknown): unknown {
  const service = target.label;
  if (e instanceof ServiceClientError) {
    if (e.code === 'CONNECTION_FAILED') return new ConsoleError('SERVICE_UNREACHABLE', `${service} at ${target.url} is unreachable: ${e.message}`, { service });
    // HTTP_<status> is the client's code for a reply without the service's own.
    const serviceCode = e.code.startsWith('HTTP_') ? undefined : e.code;
    return new ConsoleError('SERVICE_ERROR', `${service}: ${e.message}`, { service, ...(serviceCode ? { serviceCode } : {}), ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}) });
  }
  if (e instanceof z.ZodError) return new ConsoleError('SERVICE_ERROR', `${service}: unexpected answer to ${what}: ${e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { service });
  if (e instanceof SyntaxError) return new ConsoleError('SERVICE_ERROR', `${service}: ${what} answered non-JSON`, { service });
  return e;
}
