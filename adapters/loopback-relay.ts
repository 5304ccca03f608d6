/**
 * A loopback relay: a TCP listener on 127.0.0.1 and a free port whose every connection is carried
 * on to a real server from a source address of jitc's choosing. It lets a client that cannot pick
 * its own source address (ldapts, node-postgres) reach a target as if it ran elsewhere (from
 * 127.0.0.2), for any protocol: the bytes pass untouched, TLS included. One relay per attempt,
 * closed with it; the server sees the relay's upstream address, which is the point.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { ProbeResult } from './contract.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface LoopbackRelay extends Endpoint {
  /** What went wrong upstream (binding the source address, reaching the server), for an attempt's detail; empty while all is well. */
  readonly problems: readonly string[];
  /** Stop listening and end every connection it carries. */
  close(): Promise<void>;
}

/** Open a relay to `upstream` whose connections leave from `localAddress`. */
export async function openRelay(upstream: Endpoint, localAddress: string): Promise<LoopbackRelay> {
  const sockets = new Set<Socket>();
  const problems: string[] = [];
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    const onward = connect({ host: upstream.host, port: upstream.port, localAddress });
    track(onward);
    onward.once('connect', () => {
      client.pipe(onward);
      onward.pipe(client);
      client.resume();
    });
    // Either side failing ends both: the client then sees its connection end, which its own
    // reader counts as no answer, never as a refusal.
    const fail = (side: string) => (error: NodeJS.ErrnoException) => {
      problems.push(`relay ${side}: ${error.code ?? error.message}${side === 'upstream' ? ` (from ${localAddress} to ${upstream.host}:${upstream.port})` : ''}`);
      client.destroy();
      onward.destroy();
    };
    onward.on('error', fail('upstream'));
    client.on('error', fail('client'));
    client.once('end', () => onward.end());
    onward.once('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Port 0: the system picks a free one, with no window for another process to take it first.
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the loopback relay has no TCP address');
  return {
    host: '127.0.0.1',
    port: address.port,
    problems,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Run `body` with a relay open, and close it whatever happens. */
export async function throughRelay<T>(upstream: Endpoint, localAddress: string, body: (relay: LoopbackRelay) => Promise<T>): Promise<T> {
  const relay = await openRelay(upstream, localAddress);
  try {
    return await body(relay);
  } finally {
    await relay.close();
  }
}

/**
 * A probe through a relay leaving from `localAddress`. The relay's own trouble (the address is not
 * this machine's, the server unreachable from it) explains an answer that is none, so it joins an
 * `unknown` detail; it never turns into a denial.
 */
export function probeThroughRelay(upstream: Endpoint, localAddress: string, probe: (relay: Endpoint) => Promise<ProbeResult>): Promise<ProbeResult> {
  return throughRelay(upstream, localAddress, async (relay) => {
    const result = await probe(relay);
    return result.outcome === 'unknown' && relay.problems.length > 0 ? { ...result, detail: `${result.detail}; ${relay.problems.join('; ')}` } : result;
  });
}
