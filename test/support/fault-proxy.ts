/**
 * A loopback TCP proxy between jitc and a target that misbehaves on demand: connection resets,
 * a black hole, answers slower than the probe timeout, garbage bytes, HTTP 503, a 403 that a
 * gateway (not the target) sends, a stale replica behind a round-robin front, and a revocation
 * that reaches the front late. Used to prove that a probe the harness cannot trust never turns
 * into a pass, and that a credential some node still honours is caught.
 *
 * The replica modes remember answers: every request that comes alone on its connection
 * (`Connection: close`, as each jitc probe does) and is answered 2xx is kept, keyed by method,
 * path, token and body. Requests on kept-alive connections are passed through untouched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type FaultMode =
  | 'pass'
  | 'reset'
  | 'blackhole'
  | 'slow'
  | 'garbage'
  | 'http-503'
  /** 403 with an HTML page, as a WAF or gateway answers. */
  | 'foreign-403-html'
  /** 403 with an empty body. */
  | 'foreign-403-empty'
  /** 403 with JSON that is not Vault's error document, as an API gateway answers. */
  | 'foreign-403-json'
  /**
   * Round robin over two nodes, a fresh decision per NEW connection: the live target, and a stale
   * replica that answers a remembered request with its remembered 2xx answer (it still honours a
   * revoked credential) and forwards everything else. The turn is kept per request, so two pollers
   * interleaving cannot fall into step with the balancer and each see one node only. With `lagMs`
   * the replica converges that long after the live target first refused the request; without, never.
   * Requests on a kept-alive connection all go to the live target: such a client sees one node only.
   */
  | 'flap'
  /**
   * The revocation reaches the front late: for `lagMs` after the target first refuses a remembered
   * request, the front keeps answering it with the remembered 2xx answer.
   */
  | 'lagging';

export interface FaultProxyOptions {
  /** How long `slow` holds each answer back: longer than the harness's probe timeout. */
  slowMs?: number;
  /** How long `lagging` keeps a refused credential allowed; how long the `flap` replica takes to converge (0: never). */
  lagMs?: number;
  /** Only requests whose path matches are answered from memory (default: all). */
  replayPaths?: RegExp;
}

interface Request {
  head: string;
  raw: Buffer;
  key: string;
  path: string;
  /** Alone on its connection: its answer can be remembered and replayed. */
  alone: boolean;
}

const FOREIGN_403: Record<'foreign-403-html' | 'foreign-403-empty' | 'foreign-403-json', { type: string; body: string }> = {
  'foreign-403-html': { type: 'text/html', body: '<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><hr>gateway</body></html>' },
  'foreign-403-empty': { type: 'text/plain', body: '' },
  'foreign-403-json': { type: 'application/json', body: '{"message":"Forbidden"}' },
};

export class FaultProxy {
  mode: FaultMode = 'pass';
  /** New connections accepted, per mode: a probe on a new connection shows up here. */
  readonly connections = new Map<FaultMode, number>();
  /** Answers the stale replica (flap) or the lagging front served from memory. */
  replayed = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #remembered = new Map<string, Buffer>();
  /** When the target first refused a remembered request (lagging). */
  readonly #firstRefusal = new Map<string, number>();
  readonly #slowMs: number;
  readonly #lagMs: number;
  readonly #replayPaths: RegExp;
  readonly #flapTurns = new Map<string, number>();

  constructor(
    private readonly targetPort: number,
    options: FaultProxyOptions | number = {},
  ) {
    const o = typeof options === 'number' ? { slowMs: options } : options;
    this.#slowMs = o.slowMs ?? 6000;
    this.#lagMs = o.lagMs ?? 0;
    this.#replayPaths = o.replayPaths ?? /./;
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
    const mode = this.mode;
    this.connections.set(mode, (this.connections.get(mode) ?? 0) + 1);
    switch (mode) {
      case 'reset':
        client.resetAndDestroy();
        return;
      case 'blackhole':
        client.on('data', () => undefined);
        return;
      case 'garbage':
        client.once('data', () => client.end(randomBytes(512)));
        return;
      case 'http-503':
        answerOnceHeadIsIn(client, 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nunavailable');
        return;
      case 'foreign-403-html':
      case 'foreign-403-empty':
      case 'foreign-403-json': {
        const { type, body } = FOREIGN_403[mode];
        answerOnceHeadIsIn(client, `HTTP/1.1 403 Forbidden\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      case 'slow':
        this.#pipe(client, Buffer.alloc(0), this.#slowMs);
        return;
      case 'pass':
      case 'lagging':
        readRequest(client, (request) => this.#forward(client, request, mode));
        return;
      case 'flap':
        readRequest(client, (request) => {
          if (request?.alone) {
            const turn = this.#flapTurns.get(request.key) ?? 0;
            this.#flapTurns.set(request.key, turn + 1);
            const kept = this.#replayPaths.test(request.path) ? this.#remembered.get(request.key) : undefined;
            const refusedAt = this.#firstRefusal.get(request.key);
            const converged = this.#lagMs > 0 && refusedAt !== undefined && Date.now() - refusedAt >= this.#lagMs;
            if (turn % 2 === 1 && kept && !converged) {
              this.replayed++;
              client.end(kept);
              return;
            }
          }
          this.#forward(client, request, mode);
        });
        return;
    }
  }

  /** Raw bytes both ways (what was already read from the client first), each answer chunk held back `delay` ms. */
  #pipe(client: Socket, already: Buffer, delay = 0): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    this.#track(upstream);
    if (already.length > 0) upstream.write(already);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => (delay > 0 ? setTimeout(() => client.writable && client.write(chunk), delay) : client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => (delay > 0 ? setTimeout(() => client.destroy(), delay) : client.destroy()));
  }

  /** Forward a request; remember a 2xx answer to a request alone on its connection; in `lagging`, hide a fresh refusal. */
  #forward(client: Socket, request: Request | undefined, mode: FaultMode): void {
    if (!request || !request.alone) {
      this.#pipe(client, request?.raw ?? Buffer.alloc(0));
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    this.#track(upstream);
    upstream.write(request.raw);
    client.on('data', (chunk) => upstream.write(chunk));
    const chunks: Buffer[] = [];
    upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
    upstream.on('close', () => {
      const answer = Buffer.concat(chunks);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer.subarray(0, 16).toString('latin1'))?.[1] ?? 0);
      const kept = this.#replayPaths.test(request.path) ? this.#remembered.get(request.key) : undefined;
      if (status >= 200 && status < 300) {
        this.#remembered.set(request.key, answer);
        this.#firstRefusal.delete(request.key);
      } else if (kept) {
        const first = this.#firstRefusal.get(request.key) ?? Date.now();
        this.#firstRefusal.set(request.key, first);
        if (mode === 'lagging' && Date.now() - first < this.#lagMs) {
          this.replayed++;
          client.end(kept);
          return;
        }
      }
      client.end(answer);
    });
    client.on('close', () => upstream.destroy());
  }
}

/** Answer once the request head is in, then keep reading: closing on unread bytes is a reset. */
function answerOnceHeadIsIn(client: Socket, answer: string): void {
  let head = '';
  client.on('data', (chunk) => {
    if (head.includes('\r\n\r\n')) return;
    head += chunk.toString('latin1');
    if (head.includes('\r\n\r\n')) client.end(answer);
  });
}

/**
 * Read one request from a new connection: its head and, by Content-Length, its body. Whatever
 * cannot be keyed (chunked bodies, a connection that closes early) is handed on unkeyed.
 */
function readRequest(client: Socket, then: (request: Request | undefined) => void): void {
  let buffered = Buffer.alloc(0);
  let done = false;
  const finish = (request: Request | undefined): void => {
    if (done) return;
    done = true;
    client.removeListener('data', onData);
    then(request);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buffered.subarray(0, end).toString('latin1');
    const headers = new Map(
      head
        .split('\r\n')
        .slice(1)
        .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const),
    );
    if (headers.has('transfer-encoding')) return finish({ head, raw: buffered, key: '', path: '', alone: false });
    const length = Number(headers.get('content-length') ?? 0);
    if (buffered.length < end + 4 + length) return;
    const [method = '', path = ''] = head.split('\r\n')[0]!.split(' ');
    const body = buffered.subarray(end + 4, end + 4 + length);
    const key = createHash('sha256')
      .update(`${method} ${path} ${headers.get('x-vault-token') ?? ''} `)
      .update(body)
      .digest('hex');
    finish({ head, raw: buffered, key, path, alone: /\bclose\b/i.test(headers.get('connection') ?? '') });
  };
  client.on('data', onData);
  client.on('end', () => finish(buffered.length > 0 ? { head: '', raw: buffered, key: '', path: '', alone: false } : undefined));
}
