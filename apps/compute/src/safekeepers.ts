/**
 * The safekeeper side of a compute start: resolve addresses to node ids and
 * make sure the timeline exists on its members before the proposer runs.
 */
import { authHeaders, serviceUrl, type SafekeeperEndpoint } from '@strata/client';
import { z } from 'zod';
import { ComputeError } from './errors.js';

export function parseSafekeeperList(list: string): string[] {
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ComputeError('SafekeepersUnavailable', 'no safekeepers given');
  return items.map((i) => serviceUrl(i, 'safekeeper'));
}

async function getJson(url: string, token: string | undefined, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    ...init,
    headers: { ...authHeaders(token), ...(init.body ? { 'content-type': 'application/json' } : {}) },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

const statusSchema = z.object({ nodeId: z.number().int().nonnegative() }).passthrough();

/** Node ids of the safekeepers that answer; a quorum of them is enough to start. */
export async function resolveSafekeepers(urls: string[], token: string | undefined): Promise<SafekeeperEndpoint[]> {
  const found = await Promise.all(
    urls.map(async (baseUrl) => {
      const r = await getJson(`${baseUrl}/v1/status`, token).catch(() => undefined);
      const p = r?.status === 200 ? statusSchema.safeParse(r.body) : undefined;
      return p?.success ? { nodeId: p.data.nodeId, baseUrl } : undefined;
    }),
  );
  const endpoints = found.filter((e): e is SafekeeperEndpoint => e !== undefined).sort((a, b) => a.nodeId - b.nodeId);
  if (endpoints.length * 2 <= urls.length) {
    throw new ComputeError('SafekeepersUnavailable', `only ${endpoints.length} of ${urls.length} safekeepers answer: no quorum`);
  }
  return endpoints;
}

const jointConfSchema = z.object({ conf: z.object({ generation: z.number().int(), members: z.array(z.number().int()), newMembers: z.array(z.number().int()).optional() }).passthrough() }).passthrough();

const confSchema = z.object({ conf: z.object({ generation: z.number().int(), members: z.array(z.number().int()) }).passthrough() }).passthrough();

/**
 * Creates the timeline on the safekeepers that lack it, starting at
 * `startLsn` (the page server timeline's start: the import LSN, or a
 * branch point). As in `wal push`: a fresh timeline gets every given
 * safekeeper (generation 1); once a membership change made a later
 * configuration, only a pull may add members, so we create nothing then.
 */
export async function ensureTimeline(endpoints: SafekeeperEndpoint[], tenantId: string, timelineId: string, startLsn: bigint, token: string | undefined, pageSize?: number): Promise<void> {
  const found = await Promise.all(
    endpoints.map(async (e) => {
      const r = await getJson(`${e.baseUrl}/v1/tenants/${tenantId}/timelines/${timelineId}`, token).catch(() => undefined);
      const p = r?.status === 200 ? confSchema.safeParse(r.body) : undefined;
      return { e, conf: p?.success ? p.data.conf : null };
    }),
  );
  let conf: { generation: number; members: number[] } | null = null;
  for (const f of found) if (f.conf !== null && (conf === null || f.conf.generation > conf.generation)) conf = f.conf;
  conf ??= { generation: 1, members: endpoints.map((e) => e.nodeId) };
  let ok = 0;
  const failures: string[] = [];
  for (const { e, conf: has } of found) {
    if (!conf.members.includes(e.nodeId)) continue;
    if (has !== null) {
      ok++;
      continue;
    }
    if (conf.generation !== 1) continue;
    const r = await getJson(`${e.baseUrl}/v1/tenants/${tenantId}/timelines`, token, {
      method: 'POST',
      // The page size lets the safekeepers parse each append as the page server will.
      body: JSON.stringify({ timelineId, startLsn: startLsn.toString(), conf: { generation: conf.generation, members: conf.members }, ...(pageSize !== undefined ? { pageSize } : {}) }),
    }).catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (r.status === 200 || r.status === 201) ok++;
    else failures.push(`${e.baseUrl}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  if (ok * 2 <= conf.members.length) {
    throw new ComputeError('SafekeepersUnavailable', `timeline ${timelineId} is on ${ok} of its ${conf.members.length} safekeepers only: ${failures.join('; ')}`);
  }
}

/**
 * After a membership change: the endpoints of the timeline's newest
 * configuration (members and, in the joint phase, new members), found among
 * `directory` (every safekeeper address the compute knows).
 */
export async function endpointsOfCurrentConf(directory: string[], tenantId: string, timelineId: string, token: string | undefined): Promise<SafekeeperEndpoint[]> {
  const all = await Promise.all(
    directory.map(async (baseUrl) => {
      const st = await getJson(`${baseUrl}/v1/status`, token).catch(() => undefined);
      const id = st?.status === 200 ? statusSchema.safeParse(st.body) : undefined;
      if (!id?.success) return undefined;
      const tl = await getJson(`${baseUrl}/v1/tenants/${tenantId}/timelines/${timelineId}`, token).catch(() => undefined);
      const conf = tl?.status === 200 ? jointConfSchema.safeParse(tl.body) : undefined;
      return { endpoint: { nodeId: id.data.nodeId, baseUrl }, conf: conf?.success ? conf.data.conf : undefined };
    }),
  );
  let newest: z.infer<typeof jointConfSchema>['conf'] | undefined;
  for (const a of all) if (a?.conf && (!newest || a.conf.generation > newest.generation)) newest = a.conf;
  if (!newest) throw new ComputeError('SafekeepersUnavailable', `no safekeeper among ${directory.join(', ')} answers for timeline ${timelineId}`);
  const ids = new Set([...newest.members, ...(newest.newMembers ?? [])]);
  const endpoints = all.flatMap((a) => (a && ids.has(a.endpoint.nodeId) ? [a.endpoint] : [])).sort((x, y) => x.nodeId - y.nodeId);
  const unknown = [...ids].filter((id) => !endpoints.some((e) => e.nodeId === id));
  if (unknown.length) throw new ComputeError('SafekeepersUnavailable', `generation ${newest.generation} names safekeepers ${unknown.join(', ')} whose addresses this compute does not know (give them with --safekeeper-directory)`);
  return endpoints;
}
