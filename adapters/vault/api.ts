/**
 * A typed door onto the Vault/OpenBao HTTP API through node-vault. One admin client per target;
 * scenario credentials are passed per call, so no client ever holds a JIT token as its default,
 * and a call made with a holder's credential never carries the admin token beside it.
 */
import vault from 'node-vault';
import { CallGate } from '../call-urgency.ts';
import { vaultTransport } from './transport.ts';

export type VaultMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST';

export interface CallOptions {
  body?: object;
  /** The credential for this call: a holder's token, or '' for none (a login). Absent: the admin token. */
  token?: string;
  headers?: Record<string, string>;
  /**
   * Open a new TCP connection for this call and close it afterwards. Always so for calls with a
   * holder's credential: a probe must get its own balancing decision, never a kept-alive socket
   * to the node that answered last.
   */
  fresh?: boolean;
  /** Another node of the same target (a replica's URL): the call goes there instead. */
  node?: string;
  /**
   * The source address the call leaves from (`127.0.0.2`): a credential bound to its context is
   * tried from elsewhere. Implies a fresh connection.
   */
  localAddress?: string;
}

/** A call the target (or something in front of it) answered with an error, or did not answer. */
export class VaultCallError extends Error {
  override name = 'VaultCallError';
  constructor(
    readonly call: string,
    /** HTTP status; undefined when nothing answered. */
    readonly status: number | undefined,
    /**
     * The items of Vault's own JSON error document (`{"errors": [...]}`), flattened; null when the
     * body was not that document (an HTML page, an empty body, other JSON: not Vault's answer).
     */
    readonly vaultErrors: string[] | null,
    /** Vault's message, a description of a foreign body, or the network error code. */
    readonly reason: string,
  ) {
    super(`${call}: ${status === undefined ? 'no answer' : `HTTP ${status}`} ${reason}`);
  }
}

/**
 * Calls to one Vault under way at once. Beyond enough to keep its cores busy, more only queue
 * inside it, first come, and the harness and the target share this machine's; here they wait by
 * urgency instead (call-urgency.ts). Measured with `npm run bench:overlap`.
 */
export const VAULT_CALLS_AT_ONCE = 32;

export class VaultApi {
  readonly #admin: vault.client;
  /** Every call to this target, its replicas included, passes through it, most urgent first. */
  readonly #gate = new CallGate(VAULT_CALLS_AT_ONCE);
  /** Clients without any default token, per address, for calls made with a holder's credential. */
  readonly #bare = new Map<string, vault.client>();
  readonly #adminAt = new Map<string, vault.client>();
  readonly #adminToken: string;

  constructor(
    readonly address: string,
    adminToken: string,
    readonly timeoutMs = 3000,
  ) {
    this.#adminToken = adminToken;
    this.#admin = this.#client(address, adminToken);
  }

  #client(address: string, token: string): vault.client {
    const client = vault({ apiVersion: 'v1', endpoint: address, token: token || 'unset', 'request-promise': vaultTransport });
    // node-vault falls back to $VAULT_TOKEN when given none; a holder's call must carry only its own.
    client.token = token;
    return client;
  }

  #clientFor(address: string, admin: boolean): vault.client {
    if (admin && address === this.address) return this.#admin;
    const cache = admin ? this.#adminAt : this.#bare;
    let client = cache.get(address);
    if (!client) {
      client = this.#client(address, admin ? this.#adminToken : '');
      cache.set(address, client);
    }
    return client;
  }

  /** Call the API; `token` overrides the admin token for this call only ('' sends none). */
  call<T = Record<string, unknown>>(method: VaultMethod, path: string, body?: object, token?: string, headers: Record<string, string> = {}): Promise<T> {
    return this.send<T>(method, path, { ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }), headers });
  }

  async send<T = Record<string, unknown>>(method: VaultMethod, path: string, options: CallOptions = {}): Promise<T> {
    const holder = options.token !== undefined;
    // A source address implies a connection of its own too: the transport opens one for it.
    const fresh = options.fresh ?? holder;
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers['X-Vault-Token'] = options.token;
    // LIST is Vault's own verb, which HTTP proxies and gateways in front of a Vault often refuse;
    // Vault answers the same list to a GET with list=true.
    const request: vault.RequestOption =
      method === 'LIST'
        ? { path: `/${path}${path.includes('?') ? '&' : '?'}list=true`, method: 'GET', headers, timeout: this.timeoutMs }
        : { path: `/${path}`, method, headers, timeout: this.timeoutMs };
    if (options.body !== undefined) request.json = options.body;
    if (fresh) request.fresh = true;
    if (options.localAddress !== undefined) request.localAddress = options.localAddress;
    const client = this.#clientFor(options.node ?? this.address, !holder);
    try {
      return (await this.#gate.run(() => client.request(request))) as T;
    } catch (error) {
      throw toCallError(`${method} ${path}${options.node ? ` on ${options.node}` : ''}${options.localAddress ? ` from ${options.localAddress}` : ''}`, error);
    }
  }
}

/** What went wrong with a call, as data: HTTP status and Vault's message, or a network error code. */
export interface VaultError {
  status: number | undefined;
  /** Vault's own error text (every item, on one line), a description of a foreign body, or the network error code. */
  message: string;
  /** The items of Vault's own JSON error document; null when the body was not that document. */
  vaultErrors: string[] | null;
}

export function describeVaultError(error: unknown): VaultError {
  const e = error instanceof VaultCallError ? error : toCallError('call', error);
  return { status: e.status, message: e.reason, vaultErrors: e.vaultErrors };
}

function toCallError(call: string, error: unknown): VaultCallError {
  if (error instanceof VaultCallError) return error;
  const e = error as { response?: { statusCode?: number; body?: unknown }; code?: string; message?: string };
  const status = e.response?.statusCode;
  if (status !== undefined) {
    const errors = vaultErrorItems(e.response?.body);
    return new VaultCallError(call, status, errors, errors === null ? foreignBody(e.response?.body) : errors.join('; ') || 'empty error list');
  }
  return new VaultCallError(call, undefined, null, e.code ?? e.message ?? String(error));
}

/** Vault's error document is a JSON object whose `errors` is a list of strings; anything else is not Vault speaking. */
function vaultErrorItems(body: unknown): string[] | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || !errors.every((item) => typeof item === 'string')) return null;
  return errors.flatMap((item: string) => flatten(item));
}

/** A body that is not Vault's error document, described without trusting it. */
function foreignBody(body: unknown): string {
  if (body === undefined || body === null || body === '') return 'with an empty body (not a Vault error document)';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const shown = text.replace(/\s+/g, ' ').trim().slice(0, 60);
  return `with a body that is not a Vault error document: ${JSON.stringify(shown)}${text.length > 60 ? '…' : ''}`;
}

/** Vault nests errors as "1 error occurred:\n\t* permission denied\n\n"; keep the items. */
function flatten(message: string): string[] {
  const items = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('* '))
    .map((line) => line.slice(2));
  return items.length > 0 ? items : [message.trim()];
}
