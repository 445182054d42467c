/**
 * What every client of the services' HTTP APIs shares (the compute, the CLI,
 * the console): a service address as a URL, the bearer header of its token,
 * one request with a deadline, and a failed reply as an error that keeps
 * the service's own code. No node:* imports: the console bundles this.
 */
import { authHeaders, StrataError } from '@strata/core';

/** Defined in core so the services' own outgoing calls share it; every client imports it from here. */
export { authHeaders };

/**
 * A request to a service that failed: `code` is the service's own
 * (`LSN_OUT_OF_RANGE`, `TIMELINE_NOT_FOUND`...) when it answered with one,
 * `HTTP_<status>` when it answered something else, `CONNECTION_FAILED` when
 * it did not answer.
 */
export class ServiceClientError extends StrataError {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status of the reply, when there was one. */
    readonly httpStatus?: number,
    /** `cause`: for CONNECTION_FAILED, what fetch threw (callers that print the transport's own words read it). */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ServiceClientError';
  }
}

export interface ServiceTarget {
  /** The service's base URL (`serviceUrl` makes one from `host:port`). */
  readonly url: string;
  readonly token?: string | undefined;
}

/** `timeoutMs` bounds the whole exchange, body included (default 30 s); null: no bound. */
export type ServiceRequestInit = Omit<RequestInit, 'headers' | 'signal'> & { timeoutMs?: number | null; headers?: Record<string, string> };

export const SERVICE_TIMEOUT_MS_DEFAULT = 30_000;

type ErrorFactory = (code: string, message: string, httpStatus?: number, options?: ErrorOptions) => ServiceClientError;
const serviceClientError: ErrorFactory = (code, message, httpStatus, options) => new ServiceClientError(code, message, httpStatus, options);

/** One request with the token and a deadline; a service that does not answer is CONNECTION_FAILED. */
export async function serviceRequest(t: ServiceTarget, path: string, init: ServiceRequestInit = {}, makeError: ErrorFactory = serviceClientError): Promise<Response> {
  const url = `${t.url}${path}`;
  try {
    return await fetch(url, {
      ...init,
      headers: { ...authHeaders(t.token), ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.timeoutMs === null ? {} : { signal: AbortSignal.timeout(init.timeoutMs ?? SERVICE_TIMEOUT_MS_DEFAULT) }),
    });
  } catch (e) {
    const reason = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    throw makeError('CONNECTION_FAILED', `cannot reach ${url}: ${reason}`, undefined, { cause: e });
  }
}

/** The service's `{code, message}` from an error reply's text, if that is what it is. */
export function parseErrorReply(text: string): { code: string; message: string } | undefined {
  try {
    const j: unknown = JSON.parse(text);
    if (typeof j !== 'object' || j === null) return undefined;
    const r = j as Record<string, unknown>;
    return typeof r['code'] === 'string' ? { code: r['code'], message: typeof r['message'] === 'string' ? r['message'] : '' } : undefined;
  } catch {
    return undefined;
  }
}

/** A reply that is not a success, as an error that keeps the service's code. */
export async function replyFailure(res: Response, what: string, makeError: ErrorFactory = serviceClientError): Promise<ServiceClientError> {
  const text = await res.text();
  const e = parseErrorReply(text);
  return makeError(e?.code ?? `HTTP_${res.status}`, `${what}: HTTP ${res.status} ${e ? `${e.code}: ${e.message}` : text.slice(0, 500)}`, res.status);
}

/** An address that is neither a URL nor `host:port` (`[v6]:port` for IPv6). */
export class InvalidServiceAddress extends StrataError {
  readonly code = 'INVALID_SERVICE_ADDRESS' as const;
  constructor(
    readonly address: string,
    readonly service: string,
  ) {
    super(`${service} address "${address}" is not H:P, [IPv6]:P or an http(s) URL`);
    this.name = 'InvalidServiceAddress';
  }
}

const HOST_PORT = /^[^:\s/[\]]+:\d{1,5}$/;
const IPV6_PORT = /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/** `host:port`, `[v6]:port` or an `http(s)://` URL → the service's base URL (no trailing slash). */
export function serviceUrl(address: string, service: string): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, '');
  if (!HOST_PORT.test(address) && !IPV6_PORT.test(address)) throw new InvalidServiceAddress(address, service);
  return `http://${address}`;
}

/** The page server's base URL from `host:port`, `[v6]:port` or a URL. */
export function pageserverUrl(address: string): string {
  return serviceUrl(address, 'page server');
}
