/**
 * Objects of the user's own configuration a scenario names instead of fixtures (a token role, an
 * AppRole, an IAM role, an S3 object, a group): read before the grant and recorded as evidence,
 * read again at teardown to record that they were left as they were. jitc never writes them; the
 * only thing it creates beside them is the grant. Every adapter's existing-object mode uses these.
 */
import type { ScenarioContext } from './contract.ts';

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
