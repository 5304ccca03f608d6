/**
 * A port found free can be taken by another server before a slow one (a JVM) binds it. bringUp
 * starts such a target again on new ports, a bounded number of times, and never retries any other
 * failure.
 */
import { describe, expect, test } from 'vitest';
import { bringUp } from '../../adapters/bring-up.ts';
import type { Adapter, ProvisionOptions, StartedTarget } from '../../adapters/contract.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

function adapterFailing(messages: string[]): { adapter: Adapter; starts: () => number } {
  let starts = 0;
  const adapter = {
    name: 'fake',
    targets: {
      local: {
        requirements: { commands: [] },
        start: async (options: ProvisionOptions): Promise<StartedTarget> => {
          const message = messages[starts];
          starts += 1;
          if (message !== undefined) throw new Error(message);
          return { connection: { mode: 'local', address: `http://127.0.0.1:1/${options.runId}`, settings: {}, secretSettings: [], facts: {} }, stop: async () => undefined } as unknown as StartedTarget;
        },
      },
    },
  } as unknown as Adapter;
  return { adapter, starts: () => starts };
}

const options = (log: string[]) => ({ runId: 'tport1', projectRoot: PROJECT_ROOT, mode: 'local' as const, config: {}, log: (l: string) => void log.push(l) });

describe('a local target that lost the race for its port', () => {
  test('is started again on new ports, and said so', async () => {
    const log: string[] = [];
    const fake = adapterFailing(['keycloak exited before it was ready: Port(s) already bound: 41234: Address already in use']);
    const [started] = await bringUp([fake.adapter], options(log));
    expect(started).toBeDefined();
    expect(fake.starts()).toBe(2);
    expect(log).toContain('fake: a port it was given was taken before it could bind it; starting it again on new ports');
  });

  test('gives up after three tries', async () => {
    const taken = 'slapd exited before it was ready: bind(8) failed errno=98 (Address already in use)';
    const fake = adapterFailing([taken, taken, taken, taken]);
    await expect(bringUp([fake.adapter], options([]))).rejects.toThrow(/Address already in use/);
    expect(fake.starts()).toBe(3);
  });

  test('any other failure is not retried', async () => {
    const fake = adapterFailing(['openbao exited before it was ready: permission denied']);
    await expect(bringUp([fake.adapter], options([]))).rejects.toThrow(/permission denied/);
    expect(fake.starts()).toBe(1);
  });
});
