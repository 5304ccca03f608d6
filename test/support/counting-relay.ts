/**
 * A loopback TCP relay in front of a target that counts the connections it accepts: one per probe
 * shows a new connection each time, fewer shows a pooled socket. Several relays stand for several
 * nodes of one target.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class CountingRelay {
  accepted = 0;
  /** `<scheme>://127.0.0.1:<port>` once started. */
  url = '';
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(targetPort: number) {
    this.#server = createServer((client) => {
      this.accepted++;
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
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
