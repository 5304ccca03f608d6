/**
 * A reference access-request API for the HTTP contract (README.md, "The HTTP contract"),
 * granting Vault/OpenBao tokens. Node's own http module, no framework:
 *
 *   POST /requests                 submit; answers { requestId, state: "pending" }
 *   GET  /requests/{id}            the request's state; its auto-approval rule approves it after a
 *                                  short delay, so a client's poll is exercised
 *   GET  /requests/{id}/credential once approved: a token carrying the task's policy (the
 *                                  `vault.policy` term) whose TTL and explicit max TTL are the
 *                                  approval window, not renewable, stating its own expire_time
 *   POST /requests/{id}/end        revokes the token by accessor
 *   POST /requests/{id}/renew      refuses without an approver
 *
 * Every call needs `Authorization: Bearer <token>`. The broker acts on Vault with the token it was
 * started with, over Vault's HTTP API; it keeps its requests in memory.
 *
 * Run it on its own (it prints its URL; the bearer token is read from JITC_BROKER_TOKEN):
 *   VAULT_ADDR=… VAULT_TOKEN=… JITC_BROKER_TOKEN=… node --import tsx examples/brokers/http/server.ts [defect]
 * or start it from code with {@link startHttpBroker}. A defect breaks it on purpose, for the
 * project's tests (README.md): forgets-to-end, says-revoked, grants-longer, durable,
 * renews-without-approval, same-credential, understated-expiry.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export const DEFECTS = ['forgets-to-end', 'says-revoked', 'grants-longer', 'durable', 'renews-without-approval', 'same-credential', 'understated-expiry'] as const;
export type Defect = (typeof DEFECTS)[number];

export interface HttpBrokerOptions {
  /** Where Vault answers: "http://127.0.0.1:8200". */
  vaultAddress: string;
  /** The token the broker acts with on Vault: it creates, renews and revokes tokens. */
  vaultToken: string;
  /** The token clients must present; a random one when absent. */
  bearerToken?: string;
  /** The port to listen on, on 127.0.0.1; a free one when absent. */
  port?: number;
  /** How long a request stays pending before the auto-approval rule approves it. */
  approvalDelayMs?: number;
  defect?: Defect;
}

export interface StartedHttpBroker {
  /** The API's root: "http://127.0.0.1:40123". */
  url: string;
  bearerToken: string;
  stop(): Promise<void>;
}

/** The fields of the request body this broker uses (README.md, "The HTTP contract", lists them all). */
interface Submitted {
  taskId: string;
  runId: string;
  prefix: string;
  windowSeconds: number;
  approver: string;
  terms: Record<string, string>;
}

interface Issued {
  token: string;
  accessor: string;
  issuedAt: string;
  /** What the broker states; null: no end. */
  expiresAt: string | null;
}

interface AccessRequest {
  id: string;
  body: Submitted;
  state: 'pending' | 'approved' | 'active' | 'ended';
  approver: string | null;
  approvedAt: string | null;
  issued?: Issued;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024;

function submitted(value: unknown): Submitted {
  const body = value as Partial<Submitted> | null;
  const text = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (!body || !text(body.taskId) || !text(body.runId) || !text(body.prefix) || typeof body.windowSeconds !== 'number' || !(body.windowSeconds > 0)) {
    throw new Refusal(400, 'taskId, runId, prefix and a positive windowSeconds are required');
  }
  if (!body.terms || !text(body.terms['vault.policy'])) throw new Refusal(400, 'this broker grants by a vault.policy term');
  return { taskId: body.taskId, runId: body.runId, prefix: body.prefix, windowSeconds: body.windowSeconds, approver: typeof body.approver === 'string' ? body.approver : '', terms: body.terms };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Refusal(400, 'body is not JSON');
  }
}

export async function startHttpBroker(options: HttpBrokerOptions): Promise<StartedHttpBroker> {
  const bearerToken = options.bearerToken ?? randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${bearerToken}`);
  const defect = options.defect;
  const requests = new Map<string, AccessRequest>();
  /** same-credential (broken): the first task's token, by task id without its `#2`. */
  const handedOut = new Map<string, Issued>();
  const timers = new Set<NodeJS.Timeout>();

  async function vault<T>(path: string, body: unknown): Promise<T> {
    const answer = await fetch(`${options.vaultAddress}/v1/${path}`, {
      method: 'POST',
      headers: { 'X-Vault-Token': options.vaultToken, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!answer.ok) throw new Refusal(502, `vault ${path}: HTTP ${answer.status}`);
    return (answer.status === 204 ? undefined : await answer.json()) as T;
  }

  const lookup = (accessor: string): Promise<{ data: { issue_time: string; expire_time: string | null } }> => vault('auth/token/lookup-accessor', { accessor });

  async function issue(r: AccessRequest): Promise<Issued> {
    const base = r.body.taskId.split('#')[0]!;
    const kept = defect === 'same-credential' ? handedOut.get(base) : undefined;
    if (kept) return kept;
    // The approval covers the window from the moment it was given: a credential fetched later gets
    // what is left of it, never a full window of its own.
    const approvedAt = r.approvedAt ? Date.parse(r.approvedAt) : Date.now();
    const window = Math.max(1, Math.floor((approvedAt + r.body.windowSeconds * 1000 - Date.now()) / 1000));
    const ttl = defect === 'grants-longer' ? window * 10 : defect === 'understated-expiry' ? window * 3 : window;
    const common = { policies: [r.body.terms['vault.policy']], display_name: r.body.prefix, meta: { jitc_run: r.body.runId } };
    const lifetime =
      defect === 'durable'
        ? { period: '24h' } // Broken: a periodic token, renewable for ever, with no end.
        : defect === 'renews-without-approval'
          ? { ttl: `${ttl}s`, explicit_max_ttl: `${window * 10}s`, renewable: true }
          : { ttl: `${ttl}s`, explicit_max_ttl: `${ttl}s`, renewable: false };
    const created = await vault<{ auth: { client_token: string; accessor: string } }>('auth/token/create', { ...common, ...lifetime });
    const facts = (await lookup(created.auth.accessor)).data;
    const stated =
      defect === 'durable' ? null : defect === 'understated-expiry' ? new Date(Date.parse(facts.issue_time) + window * 1000).toISOString() : facts.expire_time;
    const issued = { token: created.auth.client_token, accessor: created.auth.accessor, issuedAt: facts.issue_time, expiresAt: stated };
    if (defect === 'same-credential') handedOut.set(base, issued);
    return issued;
  }

  async function end(r: AccessRequest): Promise<Record<string, unknown>> {
    if (defect === 'forgets-to-end') return { ended: false, detail: 'the broker keeps the token' };
    const endedAt = new Date().toISOString();
    if (defect === 'says-revoked') return { ended: true, endedAt, detail: 'revoked' };
    if (r.issued) await vault('auth/token/revoke-accessor', { accessor: r.issued.accessor });
    r.state = 'ended';
    return { ended: true, endedAt, detail: r.issued ? `revoked token ${r.issued.accessor}` : 'nothing was issued' };
  }

  async function renew(r: AccessRequest, body: { seconds?: unknown; approver?: unknown }): Promise<Record<string, unknown>> {
    if (defect === 'renews-without-approval' && r.issued) {
      // Broken: the token is renewed although nobody approved it.
      const seconds = typeof body.seconds === 'number' && body.seconds > 0 ? body.seconds : r.body.windowSeconds;
      await vault('auth/token/renew-accessor', { accessor: r.issued.accessor, increment: `${seconds}s` });
      return { renewed: true, expiresAt: (await lookup(r.issued.accessor)).data.expire_time, approver: null };
    }
    if (typeof body.approver !== 'string' || body.approver === '') return { renewed: false, detail: 'needs a new approval' };
    return { renewed: false, detail: 'tokens are issued non-renewable: request a new grant' };
  }

  function requestOf(id: string): AccessRequest {
    const r = requests.get(id);
    if (!r) throw new Refusal(404, 'no such request');
    return r;
  }

  async function route(req: IncomingMessage): Promise<unknown> {
    const path = new URL(req.url ?? '/', 'http://broker').pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (method === 'POST' && path.length === 1 && path[0] === 'requests') {
      const body = submitted(await readJson(req));
      const r: AccessRequest = { id: `REQ-${randomBytes(6).toString('hex')}`, body, state: 'pending', approver: null, approvedAt: null };
      requests.set(r.id, r);
      // The auto-approval rule: the approver the task names, after a moment.
      const timer = setTimeout(() => {
        timers.delete(timer);
        r.state = 'approved';
        r.approver = body.approver || 'auto-approval';
        r.approvedAt = new Date().toISOString();
      }, options.approvalDelayMs ?? 700);
      timers.add(timer);
      return { requestId: r.id, state: r.state };
    }
    if (path[0] !== 'requests' || path[1] === undefined || path.length > 3) throw new Refusal(404, 'no such route');
    const r = requestOf(path[1]);
    const action = path[2];
    if (method === 'GET' && action === undefined) {
      return { state: r.state, approver: r.approver, approvedAt: r.approvedAt, ...(r.issued ? { expiresAt: r.issued.expiresAt } : {}) };
    }
    if (method === 'GET' && action === 'credential') {
      if (r.state === 'pending') throw new Refusal(409, 'not approved yet');
      if (r.state === 'ended') throw new Refusal(409, 'the grant has ended');
      r.issued ??= await issue(r);
      r.state = 'active';
      return {
        requestId: r.id,
        approver: r.approver,
        approvedAt: r.approvedAt,
        issuedAt: r.issued.issuedAt,
        expiresAt: r.issued.expiresAt,
        credential: { type: 'vault-token', token: r.issued.token, accessor: r.issued.accessor },
        scope: [`policy ${r.body.terms['vault.policy']}`],
      };
    }
    if (method === 'POST' && action === 'end') {
      await readJson(req);
      return end(r);
    }
    if (method === 'POST' && action === 'renew') return renew(r, (await readJson(req)) as { seconds?: unknown; approver?: unknown });
    throw new Refusal(404, 'no such route');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return send(401, { error: 'a valid bearer token is required' });
    try {
      send(200, await route(req));
    } catch (error) {
      if (error instanceof Refusal) send(error.status, { error: error.message });
      // Nothing of the failure is answered: it may come from Vault and name what it was asked.
      else send(500, { error: 'internal error' });
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bearerToken,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Run on its own: Vault from VAULT_ADDR/VAULT_TOKEN, the bearer token from JITC_BROKER_TOKEN, the
 * port from JITC_BROKER_PORT (8080: the URL scenario.yaml names), a defect as the only argument.
 */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const word = process.argv[2];
  const defect = DEFECTS.find((d) => d === word);
  const vaultAddress = process.env.VAULT_ADDR ?? process.env.BAO_ADDR;
  const vaultToken = process.env.VAULT_TOKEN ?? process.env.BAO_TOKEN;
  const bearerToken = process.env.JITC_BROKER_TOKEN;
  if ((word !== undefined && !defect) || !vaultAddress || !vaultToken || !bearerToken) {
    process.stderr.write('usage: VAULT_ADDR=… VAULT_TOKEN=… JITC_BROKER_TOKEN=… server.ts [defect]\n');
    process.exit(2);
  }
  const broker = await startHttpBroker({ vaultAddress, vaultToken, bearerToken, port: Number(process.env.JITC_BROKER_PORT ?? 8080), ...(defect ? { defect } : {}) });
  process.stdout.write(`broker listening on ${broker.url}${defect ? ` (defect: ${defect})` : ''}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void broker.stop().then(() => process.exit(0)));
}
