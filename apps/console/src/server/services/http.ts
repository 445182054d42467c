/**
 * JSON calls to the storage services' admin APIs with the cluster's admin
 * token. A service's typed error (`{code, message}`) becomes a ConsoleError
 * that keeps the service's code, so the browser shows it as the service said it.
 */
import type { z } from 'zod';
import { ConsoleError, errorMessage } from './errors';

export interface ServiceTarget {
  /** For messages: "pageserver", "safekeeper 2", "compute main". */
  label: string;
  url: string;
  token: string | undefined;
}

const TIMEOUT_MS_DEFAULT = 5_000;

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
  const headers: Record<string, string> = {};
  if (target.token) headers['authorization'] = `Bearer ${target.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(new URL(path, target.url), {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? TIMEOUT_MS_DEFAULT),
    });
  } catch (e) {
    throw new ConsoleError('SERVICE_UNREACHABLE', `${target.label} at ${target.url} is unreachable: ${errorMessage(e)}`, { service: target.label });
  }
  const text = await res.text();
  if (!res.ok) {
    let code: string | undefined;
    let message = text.slice(0, 500);
    try {
      const body = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // Not the services' error shape: keep the raw text.
    }
    throw new ConsoleError('SERVICE_ERROR', `${target.label}: ${code ? `${code}: ` : ''}${message}`, { service: target.label, ...(code ? { serviceCode: code } : {}), httpStatus: res.status });
  }
  return text;
}
