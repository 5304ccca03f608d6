/**
 * An HTTP relay in front of a target that counts the requests passing through it, each named by
 * what it asks (by default its method and path): what a scenario costs its target, measured on
 * the wire rather than in the client. The benchmarks and the scale tests read it the same way.
 * The LDAP counterpart is a CountingRelay (counting-relay.ts) tapped by an LdapMessageCounter.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a request asks, from its method, path, headers and body: the name it is counted under. */
export type DescribeRequest = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) => string;

/** Method and path, without the query: enough for a REST API such as Vault's. */
export const methodAndPath: DescribeRequest = (method, path) => `${method} ${path.replace(/\?.*$/, '')}`;

export class CountingHttpProxy {
  /** Every request relayed, in order, as `describe` named it. */
  readonly calls: string[] = [];
  /** How long the target took to answer each request, from relaying it to its answer's head, ms. */
  readonly answerMs: number[] = [];
  /** `http://127.0.0.1:<port>` once started. */
  url = '';
  readonly #server: Server;

  constructor(target: string, describe: DescribeRequest = methodAndPath) {
    const upstream = new URL(target);
    this.#server = createServer((incoming, answer) => {
      // The body is read whole before it is relayed: a query API (AWS) names its action there.
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        this.calls.push(describe(incoming.method ?? '', incoming.url ?? '', incoming.headers, body));
        const sent = performance.now();
        const forwarded = request(
          { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
          (reply) => {
            this.answerMs.push(performance.now() - sent);
            answer.writeHead(reply.statusCode ?? 502, reply.headers);
            reply.pipe(answer);
          },
        );
        forwarded.on('error', () => answer.destroy());
        forwarded.end(body);
      });
    });
  }

  /** Requests relayed so far. */
  get requests(): number {
    return this.calls.length;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
