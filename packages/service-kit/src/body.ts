/**
 * A binary request body as one buffer. On the node server the bytes are read
 * straight from the socket stream into a buffer of the announced length: the
 * web-stream path (`c.req.arrayBuffer()`) costs several copies and was most
 * of a safekeeper's time per megabyte. Elsewhere (tests through
 * `app.request`) it falls back to the standard path.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { BadRequest, PayloadTooLarge } from './errors.js';

function nodeIncoming(c: Context): IncomingMessage | undefined {
  const env: unknown = c.env;
  if (typeof env !== 'object' || env === null || !('incoming' in env)) return undefined;
  const incoming = (env as { incoming: unknown }).incoming;
  return typeof incoming === 'object' && incoming !== null && 'on' in incoming ? (incoming as IncomingMessage) : undefined;
}

export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
  const incoming = nodeIncoming(c);
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (!incoming || !Number.isSafeInteger(declared) || incoming.readableDidRead) {
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > maxBytes) throw new PayloadTooLarge(maxBytes);
    return body;
  }
  if (declared > maxBytes) throw new PayloadTooLarge(maxBytes);
  const out = Buffer.allocUnsafe(declared);
  let at = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    if (at + chunk.length > declared) throw new BadRequest(`the body is longer than its content-length ${declared}`);
    chunk.copy(out, at);
    at += chunk.length;
  }
  if (at !== declared) throw new BadRequest(`the body ended after ${at} of its ${declared} bytes`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
