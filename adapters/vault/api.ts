/**
 * A typed door onto the Vault/OpenBao HTTP API through node-vault. One admin client per target;
 * scenario credentials are passed per call, so no client ever holds a JIT token as its default.
 */
import vault from 'node-vault';

export interface VaultError {
  status: number | undefined;
  /** Vault's own error text, or the network error code. */
  message: string;
}

export class VaultApi {
  readonly #client: vault.client;

  constructor(
    readonly address: string,
    adminToken: string,
    readonly timeoutMs = 3000,
  ) {
    this.#client = vault({ apiVersion: 'v1', endpoint: address, token: adminToken, requestOptions: { timeout: timeoutMs } });
  }

  /** Call the API; `token` overrides the admin token for this call only. */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST', path: string, body?: object, token?: string, headers: Record<string, string> = {}): Promise<T> {
    const requestHeaders: Record<string, string> = { ...headers };
    if (token !== undefined) requestHeaders['X-Vault-Token'] = token;
    const options: vault.RequestOption = { path: `/${path}`, method, headers: requestHeaders, timeout: this.timeoutMs };
    if (body !== undefined) options.json = body;
    return (await this.#client.request(options)) as T;
  }
}

/** What went wrong with a call, as data: HTTP status and Vault's message, or a network error code. */
export function describeVaultError(error: unknown): VaultError {
  const e = error as { response?: { statusCode?: number; body?: { errors?: unknown[] } }; code?: string; message?: string };
  if (e.response?.statusCode !== undefined) {
    const errors = e.response.body?.errors;
    const message = Array.isArray(errors) && errors.length > 0 ? flatten(String(errors[0])) : `HTTP ${e.response.statusCode}`;
    return { status: e.response.statusCode, message };
  }
  return { status: undefined, message: e.code ?? e.message ?? String(error) };
}

/** Vault nests errors as "1 error occurred:\n\t* permission denied\n\n"; keep the items, on one line. */
function flatten(message: string): string {
  const items = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('* '))
    .map((line) => line.slice(2));
  return items.length > 0 ? items.join('; ') : message.trim();
}
