/**
 * What the page server's HTTP calls share (pageserver-api.ts, the JSON and
 * small binary calls; pageserver-files.ts, the basebackup and aux uploads;
 * pageserver-client.ts, the GetPage stream): the error every failure is,
 * the request with "page server:" in its messages, the JSON reply checked
 * with zod. No node:* imports: the console imports pageserver-api.ts.
 */
import type { z } from 'zod';
import { replyFailure, serviceRequest, ServiceClientError, type ServiceRequestInit, type ServiceTarget } from './http.js';

export type PageserverTarget = ServiceTarget;

/**
 * A failure of a page server request (pageserver-api.ts), of the stream's
 * connection or of a whole batch; a page's own failure is its item's status.
 * `code` is the page server's (`TIMELINE_NOT_FOUND`...) when it sent one.
 */
export class PageserverClientError extends ServiceClientError {
  constructor(code: string, message: string, httpStatus?: number, options?: ErrorOptions) {
    super(code, message, httpStatus, options);
    this.name = 'PageserverClientError';
  }
}

/** Every failure of a page server call is a PageserverClientError (a ServiceClientError). */
const pageserverError = (code: string, message: string, httpStatus?: number, options?: ErrorOptions) => new PageserverClientError(code, message, httpStatus, options);

/** Not "cannot reach http://…" alone: say it was the page server. */
export async function request(t: PageserverTarget, path: string, init: ServiceRequestInit = {}): Promise<Response> {
  return serviceRequest(t, path, init, (code, message, httpStatus, options) => pageserverError(code, `page server: ${message}`, httpStatus, options));
}

/** A reply that is not a success, as an error that keeps the page server's code. */
export function failure(res: Response, what: string): Promise<ServiceClientError> {
  return replyFailure(res, what, pageserverError);
}

export async function json<S extends z.ZodType>(t: PageserverTarget, path: string, schema: S, what: string, init: ServiceRequestInit = {}): Promise<z.output<S>> {
  const res = await request(t, path, init);
  if (!res.ok) throw await failure(res, what);
  return schema.parse(await res.json());
}

export const timelinePath = (tenantId: string, timelineId: string) => `/v1/tenants/${tenantId}/timelines/${timelineId}`;
