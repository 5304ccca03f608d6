/**
 * An HTTP relay in front of a target that counts the requests passing through it, by method and
 * path shape: what a scenario costs its target, measured on the wire rather than in the client.
 */
import { createServer, request, type Server } from 'node:http';

export class CountingHttpProxy {
  requests = 0;
  /** `http://127.0.0.1:<port>` once started. */
  url = '';
  readonly #server: Server;

  constructor(target: string) {
    const upstream = new URL(target);
    this.#server = createServer((incoming, answer) => {
      this.requests++;
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (reply) => {
          answer.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(answer);
        },
      );
      forwarded.on('error', () => answer.destroy());
      incoming.pipe(forwarded);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
