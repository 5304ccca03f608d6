/**
 * A loopback TCP proxy between jitc and a target that misbehaves on demand: connection resets,
 * a black hole, answers slower than the probe timeout, garbage bytes, HTTP 503. Used to prove that
 * a probe the harness cannot trust never turns into a pass.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'reset' | 'blackhole' | 'slow' | 'garbage' | 'http-503';

export class FaultProxy {
  mode: FaultMode = 'pass';
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(
    private readonly targetPort: number,
    /** How long `slow` holds each answer back: longer than the harness's probe timeout. */
    private readonly slowMs = 6000,
  ) {
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
    return address.port;
  }

  /** Switch behaviour; connections already open (keep-alive) are cut so the new mode applies at once. */
  setMode(mode: FaultMode): void {
    this.mode = mode;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  #accept(client: Socket): void {
    this.#track(client);
    switch (this.mode) {
      case 'reset':
        client.resetAndDestroy();
        return;
      case 'blackhole':
        client.on('data', () => undefined);
        return;
      case 'garbage':
        client.once('data', () => client.end(randomBytes(512)));
        return;
      case 'http-503': {
        // Answer once the request head is in, then keep reading: closing on unread bytes is a reset.
        let head = '';
        client.on('data', (chunk) => {
          if (head.includes('\r\n\r\n')) return;
          head += chunk.toString('latin1');
          if (head.includes('\r\n\r\n')) client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nunavailable');
        });
        return;
      }
      case 'slow':
      case 'pass': {
        const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
        this.#track(upstream);
        const delay = this.mode === 'slow' ? this.slowMs : 0;
        client.on('data', (chunk) => upstream.write(chunk));
        upstream.on('data', (chunk) => (delay > 0 ? setTimeout(() => client.writable && client.write(chunk), delay) : client.write(chunk)));
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => (delay > 0 ? setTimeout(() => client.destroy(), delay) : client.destroy()));
        return;
      }
    }
  }
}
