/**
 * What a Vault probe reads as a denial, against a real HTTP server answering exactly as a Vault, a
 * gateway or a WAF would: only Vault's own error document counts, a bare 403 is unknown, and every
 * probe goes out on a new connection, to the node it is given.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VaultApi, VaultCallError } from '../../adapters/vault/api.ts';
import { GONE, probe, readExtensionRefusal } from '../../adapters/vault/probes.ts';

interface Answer {
  status: number;
  type?: string;
  body: string;
}

/** A server whose answer per path the test sets, and which counts the connections it accepted. */
class ScriptedServer {
  readonly answers = new Map<string, Answer>();
  connections = 0;
  readonly seen: IncomingHttpHeaders[] = [];
  readonly #server: Server;
  constructor(readonly name: string) {
    this.#server = createServer((req, res) => {
      this.seen.push(req.headers);
      const answer = this.answers.get(req.url ?? '') ?? { status: 200, type: 'application/json', body: `{"data":{"node":"${this.name}"}}` };
      res.writeHead(answer.status, answer.type ? { 'Content-Type': answer.type } : {});
      res.end(answer.body);
    });
    this.#server.on('connection', () => this.connections++);
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const vaultJson = (status: number, ...errors: string[]): Answer => ({ status, type: 'application/json', body: JSON.stringify({ errors }) });

const primary = new ScriptedServer('primary');
const replica = new ScriptedServer('replica');
let api: VaultApi;
let replicaAddress: string;

beforeAll(async () => {
  api = new VaultApi(await primary.start(), 'admin-token-for-tests', 2000);
  replicaAddress = await replica.start();
});
afterAll(async () => {
  await primary.stop();
  await replica.stop();
});

async function answerTo(answer: Answer, gone?: RegExp) {
  primary.answers.set('/v1/probe', answer);
  return probe(() => api.send('GET', 'probe', { token: 'holder-token-for-tests' }), gone);
}

describe('a Vault probe', () => {
  test('a 403 carrying Vault\'s "permission denied" error document is a denial', async () => {
    expect(await answerTo(vaultJson(403, 'permission denied'))).toMatchObject({ outcome: 'denied', detail: 'HTTP 403 permission denied' });
  });

  test('the nested form "1 error occurred: * permission denied" is a denial too', async () => {
    expect(await answerTo(vaultJson(403, '1 error occurred:\n\t* permission denied\n\n'))).toMatchObject({ outcome: 'denied', detail: 'HTTP 403 permission denied' });
  });

  test.each([
    ['an HTML page, as a WAF sends', { status: 403, type: 'text/html', body: '<html><body><h1>403 Forbidden</h1></body></html>' }],
    ['an empty body', { status: 403, body: '' }],
    ['JSON that is not Vault\'s error document, as an API gateway sends', { status: 403, type: 'application/json', body: '{"message":"Forbidden"}' }],
    ['a Vault error document with another text', vaultJson(403, 'request rate limited')],
    ['an error list that is not made of strings', { status: 403, type: 'application/json', body: '{"errors":[{"code":403}]}' }],
  ])('a 403 with %s is unknown, never a denial', async (_what, answer) => {
    const result = await answerTo(answer);
    expect(result.outcome).toBe('unknown');
    expect(result.detail).toMatch(/^unrecognised answer: HTTP 403/);
  });

  test('a 400 naming a gone accessor is a denial only where the probe asks about an accessor', async () => {
    expect(await answerTo(vaultJson(400, '1 error occurred:\n\t* invalid accessor\n\n'), GONE.accessor)).toMatchObject({ outcome: 'denied', detail: 'HTTP 400 invalid accessor' });
    expect((await answerTo(vaultJson(400, 'invalid accessor'), GONE.secretId)).outcome).toBe('unknown');
    expect((await answerTo(vaultJson(400, 'invalid accessor'))).outcome).toBe('unknown');
  });

  test('a 400 with the gone text in a body that is not Vault\'s error document is unknown', async () => {
    expect((await answerTo({ status: 400, type: 'text/plain', body: 'invalid accessor' }, GONE.accessor)).outcome).toBe('unknown');
  });

  test('a 400 that merely contains a gone text inside a longer one is unknown', async () => {
    expect((await answerTo(vaultJson(400, 'cannot decide: invalid accessor field in request'), GONE.accessor)).outcome).toBe('unknown');
  });

  test('5xx is unknown, and an answer is allowed only on 2xx', async () => {
    expect((await answerTo(vaultJson(503, 'Vault is sealed'))).outcome).toBe('unknown');
    expect((await answerTo({ status: 200, type: 'application/json', body: '{"data":{}}' })).outcome).toBe('allowed');
  });

  test('every probe opens a new connection and asks the server to close it', async () => {
    primary.answers.set('/v1/probe', vaultJson(403, 'permission denied'));
    const before = primary.connections;
    const seen = primary.seen.length;
    for (let i = 0; i < 5; i++) await probe(() => api.send('GET', 'probe', { token: 'holder-token-for-tests' }));
    expect(primary.connections - before).toBe(5);
    expect(primary.seen.slice(seen).map((h) => h.connection)).toEqual(Array(5).fill('close'));
  });

  test('a probe given a node goes to that node, with the holder\'s token and never the admin\'s', async () => {
    const before = replica.seen.length;
    const result = await probe(() => api.send('GET', 'anything', { token: 'holder-token-for-tests', node: replicaAddress }));
    expect(result.outcome).toBe('allowed');
    expect(replica.seen.slice(before).map((h) => h['x-vault-token'])).toEqual(['holder-token-for-tests']);
  });

  test('a call with no credential (a login) carries no token at all, not the admin\'s', async () => {
    const seen = primary.seen.length;
    await api.send('POST', 'login', { token: '', body: {} });
    expect(primary.seen.slice(seen).map((h) => h['x-vault-token'])).toEqual([undefined]);
  });
});

describe('a failed Vault call', () => {
  test('keeps every line of Vault\'s error, not "1 error occurred:"', async () => {
    primary.answers.set('/v1/auth/token/revoke-accessor', vaultJson(400, '1 error occurred:\n\t* batch tokens cannot be revoked\n\n'));
    const error = await api.call('POST', 'auth/token/revoke-accessor', { accessor: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultCallError);
    expect((error as Error).message).toBe('POST auth/token/revoke-accessor: HTTP 400 batch tokens cannot be revoked');
  });
});

describe('an extension attempt', () => {
  const refusal = async (answer: Answer) => {
    primary.answers.set('/v1/auth/token/renew-self', answer);
    return readExtensionRefusal(await api.send('POST', 'auth/token/renew-self', { token: 'holder-token-for-tests', body: {} }).catch((e: unknown) => e));
  };

  test.each([
    [vaultJson(403, 'permission denied')],
    [vaultJson(400, 'lease is not renewable')],
    [vaultJson(400, 'batch tokens cannot be renewed')],
    [vaultJson(400, 'batch tokens cannot create more tokens')],
    [vaultJson(500, 'past the max TTL, cannot renew')],
    [vaultJson(400, 'token not found')],
    [vaultJson(500, 'no token entry found during lookup')],
    // Measured on OpenBao 2.x: renew-self a moment after the token expired, before its entry was reaped.
    [vaultJson(500, 'failed to renew entry: no token entry found during lookup')],
    [vaultJson(400, 'lease expired')],
    // Measured on OpenBao 2.7 at 500 scenarios at once: renew-self right after the expiry, once the token's lease was reaped but not yet its entry.
    [vaultJson(400, 'invalid lease ID')],
  ])('is refused by Vault\'s own answer %j', async (answer) => {
    expect((await refusal(answer)).denied).toBe(true);
  });

  test.each([
    [vaultJson(500, 'internal error')],
    [{ status: 500, type: 'text/plain', body: 'past the max TTL, cannot renew' }],
    [{ status: 403, type: 'text/html', body: '<h1>Forbidden</h1>' }],
    [vaultJson(429, 'rate limited')],
    [vaultJson(500, 'token not found')],
    [vaultJson(500, 'failed to renew entry: internal error')],
    [vaultJson(500, 'invalid lease ID')],
  ])('is not refused by %j', async (answer) => {
    expect((await refusal(answer)).denied).toBe(false);
  });
});
