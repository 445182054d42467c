/**
 * Coordinator messages over plain HTTP: `POST .../consensus` with a body of
 * binary frames (core's consensus codec), answered with the reply frames.
 * Only the membership coordinator (@strata/client's MembershipDriver) uses
 * it, for MembershipSwitchRequest and TermBumpRequest; proposers stream
 * (data-path/stream-server.ts), and their messages are refused here.
 *
 * Why an operator scope (admin or safekeeperdata), not a tenant's: a switch
 * changes who holds the timeline and a bump fences its proposer. A compute
 * holds a tenant token, and with this route open to it one request bumped
 * the term to 2^64 − 1 (the timeline could never elect again) and one empty
 * member list asserted and took the safekeeper down (issue 16).
 *
 * Why no Greeting: the coordinator never sends one, and a Greeting carrying
 * a configuration is a membership switch by another name.
 *
 * Every message is checked (type, timeline, bounds: bounds.ts) before
 * anything is recorded or handed to the acceptor, whose assertions are for
 * our bugs, never for a caller's bytes.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { decodeFrames, encodeFrames, type CoordinatorMessage, type Message } from '@strata/core/consensus';
import { hexId } from '@strata/core/json';
import { ZSTD_CODING, ZstdError, acceptsZstd, zstdCompress, zstdDecompress } from '@strata/zstd';
import { authorize, BadRequest, describeIssues, PayloadTooLarge, readBodyBytes, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { boundedU64, GENERATION_LIMIT, knownNodes, remoteConfiguration } from '../bounds.js';
import { AcceptorHosts } from '../data-path/hosts.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { BadZstd } from '../errors.js';
import { timelineParams } from '../schemas.js';
import { refuseLost } from '../membership/join.js';

/**
 * Largest body, compressed or not. A coordinator message is well under a
 * kilobyte and the driver sends a few at a time; WAL no longer comes this way.
 */
export const CONSENSUS_BODY_BYTES_MAX = 1024 * 1024;

const COORDINATOR_TYPES: ReadonlySet<Message['type']> = new Set<CoordinatorMessage['type']>(['MembershipSwitchRequest', 'TermBumpRequest']);

const header = {
  tenantId: hexId,
  timelineId: hexId,
  generation: z.number().int().min(0).lt(GENERATION_LIMIT, `generation must be below 2^31 (${GENERATION_LIMIT})`),
};

/** What a decoded coordinator message may hold (the codec only checked that it fits its wire types). */
const coordinatorMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('MembershipSwitchRequest'), ...header, conf: remoteConfiguration }).strict(),
  z.object({ type: z.literal('TermBumpRequest'), ...header, term: boundedU64 }).strict(),
]);

export function consensusRoutes(deps: SafekeeperDeps) {
  const hosts = deps.hosts ?? new AcceptorHosts(deps.nodeId, knownNodes(deps));
  return new Hono<AppEnv>().post(
    '/v1/tenants/:tenant/timelines/:timeline/consensus',
    bodyLimit({
      maxSize: CONSENSUS_BODY_BYTES_MAX,
      onError: () => {
        throw new PayloadTooLarge(CONSENSUS_BODY_BYTES_MAX);
      },
    }),
    zv('param', timelineParams),
    async (c) => {
      const { tenant, timeline: timelineId } = c.req.valid('param');
      authorize(c.var.claims, POLICY.operator, tenant);
      refuseLost(deps, tenant, timelineId);
      const timeline = deps.timelines.get(tenant, timelineId);
      const body = decodeBody(c.req.header('content-encoding'), await readBodyBytes(c, CONSENSUS_BODY_BYTES_MAX));
      const messages = decodeFrames(body).map((m) => coordinatorInput(m, tenant, timelineId));
      // Before its first vote here (a pulled timeline has no entry yet); after the checks, so a refused request records nothing.
      await deps.ledger?.record(tenant, timelineId);
      const replies = await hosts.of(timeline).handle(messages);
      const out = encodeFrames(replies);
      const zstd = acceptsZstd(c.req.header('accept-encoding'));
      return c.body((zstd ? zstdCompress(out) : out) as Uint8Array<ArrayBuffer>, 200, {
        'content-type': 'application/octet-stream',
        vary: 'accept-encoding',
        ...(zstd ? { 'content-encoding': ZSTD_CODING } : {}),
      });
    },
  );
}

/** A decoded message as a coordinator message for this timeline, or BAD_REQUEST naming what is wrong. */
function coordinatorInput(m: Message, tenant: string, timelineId: string): CoordinatorMessage {
  if (!COORDINATOR_TYPES.has(m.type)) {
    throw new BadRequest(`${m.type} is not accepted on the HTTP consensus route: it takes MembershipSwitchRequest and TermBumpRequest only (proposers use the consensus stream)`);
  }
  if (m.tenantId !== tenant || m.timelineId !== timelineId) throw new BadRequest(`message for ${m.tenantId}/${m.timelineId} sent to ${tenant}/${timelineId}`);
  const r = coordinatorMessage.safeParse(m);
  if (!r.success) throw new BadRequest(`invalid ${m.type}: ${describeIssues(r.error)}`);
  return r.data;
}

/**
 * The request body as frames: identity, or zstd when the sender says so.
 * The decompressed size has the same limit as a plain body; bad zstd is
 * BAD_ZSTD before anything is decoded, so nothing is stored.
 */
function decodeBody(encoding: string | undefined, body: Uint8Array): Uint8Array {
  const coding = encoding?.trim().toLowerCase();
  if (!coding || coding === 'identity') return body;
  if (coding !== ZSTD_CODING) throw new BadRequest(`content-encoding "${encoding}" is not supported; use zstd or none`);
  try {
    return zstdDecompress(body, CONSENSUS_BODY_BYTES_MAX);
  } catch (e) {
    if (e instanceof ZstdError) throw new BadZstd(e.message);
    throw e;
  }
}
