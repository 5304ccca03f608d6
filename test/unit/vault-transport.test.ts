/**
 * The HTTP transport under node-vault (adapters/vault/transport.ts), against a loopback server
 * shaped as the answers it must keep apart: a standby node's 307 to the active one, a gateway's
 * HTML page, an empty body, an answer that never completes, a probe that must leave on a
 * connection of its own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VaultApi, describeVaultError } from '../../adapters/vault/api.ts';

let server: Server;
let base: string;
/** Each request as the server saw it: path, method, body, the connection it came on, the token header. */
const seen: { path: string; method: string; body: string; socket: number; token: string | undefined }[] = [];
const sockets = new WeakMap<object, number>();
let nextSocket = 0;

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  const json = (status: number, value: object): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
  };
  switch (req.url) {
    case '/v1/standby/secret':
      res.writeHead(307, { Location: `${base}/v1/active/secret` }).end();
      return;
    case '/v1/elsewhere':
      // Another origin: the same server under another loopback address.
      res.writeHead(307, { Location: `${base.replace('127.0.0.1', '127.0.0.2')}/v1/active/secret` }).end();
      return;
    case '/v1/active/secret':
      json(200, { data: { echoed: body } });
      return;
    case '/v1/loop':
      res.writeHead(307, { Location: '/v1/loop' }).end();
      return;
    case '/v1/gateway':
      res.writeHead(403, { 'Content-Type': 'text/html' }).end('<html><body>Forbidden by policy</body></html>');
      return;
    case '/v1/empty':
      res.writeHead(403).end();
      return;
    case '/v1/denied':
      json(403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
      return;
    case '/v1/trickle':
      // Headers at once, then a byte every 100 ms, never the end: only a timeout on the whole answer stops it.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{');
      setInterval(() => res.write(' '), 100).unref();
      return;
    default:
      json(200, { data: { ok: true } });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, nextSocket++);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ path: req.url ?? '', method: req.method ?? '', body, socket: sockets.get(req.socket)!, token: req.headers['x-vault-token'] as string | undefined });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('the Vault transport', () => {
  test("a standby's 307 is followed to the active node with the same method, body and token", async () => {
    const api = new VaultApi(base, 'admin-credential-x');
    const got = await api.call<{ data: { echoed: string } }>('POST', 'standby/secret', { a: 1 });
    expect(JSON.parse(got.data.echoed)).toEqual({ a: 1 });
    const hops = seen.filter((s) => s.path.endsWith('/secret')).slice(-2);
    expect(hops.map((s) => `${s.method} ${s.path} ${s.body} ${s.token}`)).toEqual([
      'POST /v1/standby/secret {"a":1} admin-credential-x',
      'POST /v1/active/secret {"a":1} admin-credential-x',
    ]);
  });

  test('a redirect to another origin is not followed: the token would go to a host the run was never pointed at', async () => {
    const api = new VaultApi(base, 'admin-credential-x');
    const from = seen.length;
    const error = await api.call('GET', 'elsewhere').catch((e: unknown) => e);
    expect(describeVaultError(error)).toEqual({ status: 307, message: 'with an empty body (not a Vault error document)', vaultErrors: null });
    expect(seen.slice(from).map((s) => s.path)).toEqual(['/v1/elsewhere']);
  });

  test('redirects stop after five hops, as an answer that is not Vault\'s', async () => {
    const api = new VaultApi(base, 'admin-credential-x');
    const error = await api.call('GET', 'loop').catch((e: unknown) => e);
    expect(describeVaultError(error)).toEqual({ status: 307, message: 'with an empty body (not a Vault error document)', vaultErrors: null });
    expect(seen.filter((s) => s.path === '/v1/loop')).toHaveLength(6);
  });

  test("a gateway's HTML page and an empty body stay visibly not Vault's; Vault's own denial is read as one", async () => {
    const api = new VaultApi(base, 'admin-credential-x');
    const read = async (path: string): Promise<ReturnType<typeof describeVaultError>> => describeVaultError(await api.call('GET', path).catch((e: unknown) => e));
    expect(await read('gateway')).toEqual({ status: 403, message: 'with a body that is not a Vault error document: "<html><body>Forbidden by policy</body></html>"', vaultErrors: null });
    expect((await read('empty')).vaultErrors).toBeNull();
    expect(await read('denied')).toEqual({ status: 403, message: 'permission denied', vaultErrors: ['permission denied'] });
  });

  test('an answer that never completes fails at the timeout, whatever trickles in', async () => {
    const api = new VaultApi(base, 'admin-credential-x', 400);
    const started = Date.now();
    const error = await api.call('GET', 'trickle').catch((e: unknown) => e);
    expect(describeVaultError(error)).toMatchObject({ status: undefined, message: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a holder's calls each come on a new connection and carry only the holder's token; the admin's share one", async () => {
    const api = new VaultApi(base, 'admin-credential-x');
    const from = seen.length;
    await api.call('GET', 'a', undefined, 'holder-credential-y');
    await api.call('GET', 'b', undefined, 'holder-credential-y');
    await api.call('GET', 'c');
    await api.call('GET', 'd');
    const [a, b, c, d] = seen.slice(from);
    expect([a!.token, b!.token, c!.token, d!.token]).toEqual(['holder-credential-y', 'holder-credential-y', 'admin-credential-x', 'admin-credential-x']);
    expect(a!.socket).not.toBe(b!.socket);
    expect(new Set([a!.socket, b!.socket, c!.socket]).size).toBe(3);
    expect(d!.socket).toBe(c!.socket);
  });
});
