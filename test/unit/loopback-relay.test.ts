/**
 * The loopback relay carries a connection to a real server from the source address it is told,
 * bytes untouched both ways; an address the machine does not have is said, not hidden, and the
 * client's connection then ends without an answer. Closing the relay ends what it carries.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openRelay, probeThroughRelay, throughRelay } from '../../adapters/loopback-relay.ts';

/** A server on 127.0.0.1 that answers each line with the peer's address and the line. */
let server: Server;
let port = 0;
const held: Socket[] = [];

beforeAll(async () => {
  server = createServer((socket) => {
    held.push(socket);
    socket.on('data', (data) => socket.write(`${socket.remoteAddress} ${data.toString()}`));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Send one line through `relayPort` and read the answer; '' when the connection ends first. */
function exchange(relayPort: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: relayPort }, () => socket.write(line));
    let got = '';
    socket.on('data', (data) => {
      got += data.toString();
      if (got.includes(line)) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
  });
}

describe('the loopback relay', () => {
  test('a server on 127.0.0.1 sees a relayed connection come from 127.0.0.2, and the bytes pass both ways', async () => {
    const answer = await throughRelay({ host: '127.0.0.1', port }, '127.0.0.2', async (relay) => {
      expect(relay.host).toBe('127.0.0.1');
      expect(relay.port).not.toBe(port);
      return exchange(relay.port, 'hello\n');
    });
    expect(answer).toBe('127.0.0.2 hello\n');
  });

  test('from 127.0.0.1 it is the bound context, and the relay serves several connections', async () => {
    const relay = await openRelay({ host: '127.0.0.1', port }, '127.0.0.1');
    try {
      expect(await Promise.all([exchange(relay.port, 'a\n'), exchange(relay.port, 'b\n')])).toEqual(['127.0.0.1 a\n', '127.0.0.1 b\n']);
      expect(relay.problems).toEqual([]);
    } finally {
      await relay.close();
    }
  });

  test('an address this machine does not have ends the client connection without an answer, and the relay says why', async () => {
    const relay = await openRelay({ host: '127.0.0.1', port }, '192.0.2.1');
    try {
      expect(await exchange(relay.port, 'x\n')).toBe('');
      expect(relay.problems).toEqual([expect.stringMatching(/^relay upstream: EADDRNOTAVAIL \(from 192\.0\.2\.1 to 127\.0\.0\.1:\d+\)$/)]);
    } finally {
      await relay.close();
    }
  });

  test('a probe through a relay that could not leave from its address says why in its unknown answer, and is never made a denial', async () => {
    const through = (from: string) =>
      probeThroughRelay({ host: '127.0.0.1', port }, from, async (relay) => {
        const got = await exchange(relay.port, 'p\n');
        return { outcome: got ? 'allowed' : 'unknown', at: new Date().toISOString(), detail: got ? `answered ${got.trim()}` : 'the connection ended without an answer' };
      });
    expect(await through('192.0.2.1')).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/^the connection ended without an answer; relay upstream: EADDRNOTAVAIL/) });
    expect(await through('127.0.0.2')).toMatchObject({ outcome: 'allowed', detail: 'answered 127.0.0.2 p' });
  });

  test('closing the relay ends the connections it carries and stops listening', async () => {
    const relay = await openRelay({ host: '127.0.0.1', port }, '127.0.0.2');
    const client = connect({ host: '127.0.0.1', port: relay.port });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => undefined);
    await relay.close();
    await closed;
    await expect(exchange(relay.port, 'y\n')).resolves.toBe('');
  });
});
