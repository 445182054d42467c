/**
 * Consensus messages over plain HTTP: `POST .../consensus` with a body of
 * binary frames (core's consensus codec), answered with the reply frames.
 * The membership coordinator (@strata/client's MembershipDriver) sends its
 * few messages this way; proposers stream instead (data-path/stream-server.ts)
 * and this route stays for any older proposer.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { decodeFrames, encodeFrames, type AcceptorInput } from '@strata/core/consensus';
import { CorruptFrame } from '@strata/core';
import { ZSTD_CODING, ZstdError, acceptsZstd, zstdCompress, zstdDecompress } from '@strata/zstd';
import { authorize, BadRequest, PayloadTooLarge, readBodyBytes, zv } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import { AcceptorHosts } from '../data-path/hosts.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { BadZstd } from '../errors.js';
import { timelineParams } from '../schemas.js';
import { refuseLost } from '../membership/join.js';

export const CONSENSUS_BODY_BYTES_MAX = 64 * 1024 * 1024;
const ACCEPTOR_INPUTS = new Set(['Greeting', 'VoteRequest', 'ProposerElected', 'AppendRequest', 'ReadWalRequest', 'MembershipSwitchRequest', 'TermBumpRequest']);

export function consensusRoutes(deps: SafekeeperDeps) {
  const hosts = deps.hosts ?? new AcceptorHosts(deps.nodeId);
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
      authorize(c.var.claims, POLICY.tenantData, tenant);
      refuseLost(deps, tenant, timelineId);
      const timeline = deps.timelines.get(tenant, timelineId);
      // Before its first vote here (a pulled timeline has no entry yet).
      await deps.ledger?.record(tenant, timelineId);
      const body = decodeBody(c.req.header('content-encoding'), await readBodyBytes(c, CONSENSUS_BODY_BYTES_MAX));
      const messages = decodeFrames(body);
      for (const m of messages) {
        if (!ACCEPTOR_INPUTS.has(m.type)) throw new CorruptFrame(`${m.type} is not a message for an acceptor`);
        if (m.tenantId !== tenant || m.timelineId !== timelineId) throw new CorruptFrame(`message for ${m.tenantId}/${m.timelineId} sent to ${tenant}/${timelineId}`);
      }
      const replies = await hosts.of(timeline).handle(messages as AcceptorInput[]);
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

/**
 * The request body as frames: identity, or zstd when the proposer says so.
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
