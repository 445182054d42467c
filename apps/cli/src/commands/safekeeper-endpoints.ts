/**
 * Safekeeper addresses given on the command line (`H:P,H:P,...`), resolved to
 * node ids through their `/v1/status`.
 */
import { authHeaders, serviceUrl, type SafekeeperEndpoint } from '@strata/client';
import { z } from 'zod';

const statusSchema = z.object({ nodeId: z.number().int().nonnegative() }).passthrough();

export function parseHostPorts(list: string, flag: string): string[] {
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`${flag} needs at least one H:P`);
  return items.map((i) => serviceUrl(i, flag));
}

export { authHeaders };

export async function fetchJson(url: string, init: RequestInit & { token?: string | undefined } = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    ...init,
    headers: { ...authHeaders(init.token), ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) },
    signal: init.signal ?? AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** Ask every address for its node id; unreachable ones are left out (a quorum may still be up). */
export async function resolveSafekeepers(baseUrls: string[], token: string | undefined): Promise<{ endpoints: SafekeeperEndpoint[]; unreachable: string[] }> {
  const endpoints: SafekeeperEndpoint[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    baseUrls.map(async (baseUrl) => {
      try {
        const r = await fetchJson(`${baseUrl}/v1/status`, { token });
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        endpoints.push({ nodeId: statusSchema.parse(r.body).nodeId, baseUrl });
      } catch {
        unreachable.push(baseUrl);
      }
    }),
  );
  endpoints.sort((a, b) => a.nodeId - b.nodeId);
  return { endpoints, unreachable };
}
