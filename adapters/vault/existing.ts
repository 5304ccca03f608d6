/**
 * Objects of the user's own configuration a scenario names instead of fixtures (a token role, an
 * AppRole role, a KV secret's metadata): read before the grant and recorded as evidence, read
 * again at teardown to record that they were left as they were. jitc never writes them; the only
 * thing it creates beside them is the grant itself.
 */
import type { ScenarioContext } from '../contract.ts';
import { describeVaultError, type VaultApi } from './api.ts';

interface Remembered {
  what: string;
  before: string;
  read: () => Promise<unknown>;
}

const KEY = 'existingObjects';

/** JSON with sorted keys, so two reads of the same settings compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** Read an existing object, record it as used and unchanged so far, and remember it for {@link confirmUnchanged}. */
export async function useExisting<T>(ctx: ScenarioContext<unknown, unknown>, what: string, read: () => Promise<T>): Promise<T> {
  const value = await read();
  const list = (ctx.state.get(KEY) as Remembered[] | undefined) ?? [];
  ctx.state.set(KEY, [...list, { what, before: canonical(value), read }]);
  ctx.evidence.record(`existing ${what} used as it is: nothing is changed on it`, { object: what, settings: value });
  return value;
}

/** Read every remembered object again and record whether it is as it was before the grant. */
export async function confirmUnchanged(ctx: ScenarioContext<unknown, unknown>): Promise<void> {
  for (const object of (ctx.state.get(KEY) as Remembered[] | undefined) ?? []) {
    let after: string;
    try {
      after = canonical(await object.read());
    } catch (error) {
      ctx.evidence.record(`existing ${object.what} could not be read again at teardown: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (after === object.before) ctx.evidence.record(`existing ${object.what} left unchanged`, { object: object.what });
    else ctx.evidence.record(`existing ${object.what} differs from what was read before the grant`, { object: object.what, before: JSON.parse(object.before) as unknown, after: JSON.parse(after) as unknown });
  }
}

/** `data` of a GET on an existing object; a missing one is named, with where it was looked for. */
export async function readObject(api: VaultApi, path: string, what: string): Promise<Record<string, unknown>> {
  try {
    return (await api.call<{ data: Record<string, unknown> }>('GET', path)).data;
  } catch (error) {
    const e = describeVaultError(error);
    if (e.status === 404) throw new Error(`${what} does not exist on the target (GET ${path}: HTTP 404)`);
    throw new Error(`${what} could not be read (GET ${path}: ${e.status === undefined ? 'no answer' : `HTTP ${e.status}`} ${e.message})`);
  }
}

/** The auth mount's max_lease_ttl as tuned (seconds); null when it cannot be read. */
export async function mountMaxTtl(api: VaultApi, mount: string): Promise<number | null> {
  try {
    const tune = await api.call<{ data: { max_lease_ttl?: number } }>('GET', `sys/auth/${mount}/tune`);
    return typeof tune.data.max_lease_ttl === 'number' ? tune.data.max_lease_ttl : null;
  } catch {
    return null;
  }
}
