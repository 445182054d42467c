import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientsOfPort, establishedToPort } from './tcp-connections.js';

const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C79 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 85340 1 0 100 0 0 10 0
   1: 0100007F:9C79 0100007F:D431 01 00000000:00000000 00:00000000 00000000   105        0 85341 1 0 20 4 30 10 -1
   2: 0100007F:D431 0100007F:9C79 01 00000000:00000000 00:00000000 00000000     0        0 85342 1 0 20 4 30 10 -1
   3: 0100007F:9C79 0100007F:D432 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0
`;

describe('establishedToPort', () => {
  it('counts the server side of established connections only: not the listener, not the client side, not TIME_WAIT', () => {
    expect(establishedToPort(TABLE, 0x9c79)).toBe(1);
    expect(establishedToPort(TABLE, 0xd431)).toBe(1);
    expect(establishedToPort(TABLE, 1234)).toBe(0);
  });

  it('sees a real loopback client of a real listener', async () => {
    const server = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(clientsOfPort(port)).toBe(0);
      const client = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => client.once('connect', () => r()));
      // The server's end turns ESTABLISHED when the handshake's last ACK lands: on loopback, at once or nearly.
      for (let i = 0; i < 100 && clientsOfPort(port) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(clientsOfPort(port)).toBe(1);
      client.destroy();
    } finally {
      server.close();
    }
  });
});
