/**
 * A loopback TCP relay in front of a target that counts the connections it accepts: one per probe
 * shows a new connection each time, fewer shows a pooled socket. Several relays stand for several
 * nodes of one target. A tap sees every byte each way, per connection, to count what crosses it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Bytes crossing the relay: which side sent them, on which accepted connection (numbered from 1). */
export type RelayTap = (from: 'client' | 'server', connection: number, chunk: Buffer) => void;

export class CountingRelay {
  accepted = 0;
  /** `<scheme>://127.0.0.1:<port>` once started. */
  url = '';
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(targetPort: number, tap?: RelayTap) {
    this.#server = createServer((client) => {
      const connection = ++this.accepted;
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      if (tap) {
        client.on('data', (chunk: Buffer) => tap('client', connection, chunk));
        upstream.on('data', (chunk: Buffer) => tap('server', connection, chunk));
      }
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async start(scheme = 'ldap'): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || !address) throw new Error('relay has no port');
    this.url = `${scheme}://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
