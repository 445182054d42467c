/**
 * Whether a MariaDB server takes connections on a port, without a client
 * library: on a new connection the server's first packet is its protocol-10
 * handshake, which it sends only from its accept loop, after "ready for
 * connections". Loading mysql2 for a login instead costs a compute's start
 * ~90 ms of CPU on the controller's one thread, the thread that serves the
 * FUSE datadir mariadbd is starting on.
 */
import * as net from 'node:net';

/** The MySQL/MariaDB wire protocol version a server greets with. */
const PROTOCOL_VERSION = 10;
/** 3-byte payload length, 1-byte sequence number, then the payload's first byte. */
const GREETING_PREFIX_BYTES = 5;

/** True once `host:port` answers a new connection with a protocol-10 handshake; false on refusal, another answer or silence. */
export function greets(port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    let got = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < GREETING_PREFIX_BYTES) return;
      // Sequence 0, and a payload that starts with the protocol version (an error packet starts with 0xff).
      done(got[3] === 0 && got[4] === PROTOCOL_VERSION);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}
