/**
 * The gate in front of a target that queues its calls: never more than its width under way, the
 * in-window calls of a running TTL before everything else, the rest first come; and the urgency
 * a phase states reaches every call made under it.
 */
import { describe, expect, test } from 'vitest';
import { CallGate, currentUrgency, type Urgency, withUrgency } from '../../adapters/call-urgency.ts';

/** A call that stays under way until released, noting when it started. */
function heldCall(started: string[], name: string): { call: () => Promise<string>; release: () => void } {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    call: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CallGate', () => {
  test('keeps at most its width under way, and lets in-window calls overtake the others, each first come', async () => {
    const gate = new CallGate(2);
    const started: string[] = [];
    const calls = Object.fromEntries(['a', 'b', 'turn1', 'turn2', 'window1', 'window2'].map((n) => [n, heldCall(started, n)]));
    const run = (name: string, urgency: Urgency): Promise<string> => withUrgency(urgency, () => gate.run(calls[name]!.call));
    const answers = [run('a', 'in-turn'), run('b', 'in-turn'), run('turn1', 'in-turn'), run('turn2', 'in-turn'), run('window1', 'in-window'), run('window2', 'in-window')];
    await turn();
    expect(started).toEqual(['a', 'b']);

    calls.a!.release();
    await turn();
    expect(started).toEqual(['a', 'b', 'window1']);
    calls.b!.release();
    await turn();
    expect(started).toEqual(['a', 'b', 'window1', 'window2']);
    calls.window1!.release();
    await turn();
    expect(started).toEqual(['a', 'b', 'window1', 'window2', 'turn1']);
    for (const name of ['window2', 'turn1', 'turn2']) calls[name]!.release();
    expect(await Promise.all(answers)).toEqual(['a', 'b', 'turn1', 'turn2', 'window1', 'window2']);
  });

  test('a failed call gives its slot back, and a freed slot goes to a waiting call before a newcomer', async () => {
    const gate = new CallGate(1);
    const started: string[] = [];
    const failing = gate.run(async () => {
      started.push('failing');
      await turn();
      throw new Error('refused');
    });
    const waiting = gate.run(async () => {
      started.push('waiting');
      return 'waited';
    });
    await expect(failing).rejects.toThrow('refused');
    const newcomer = gate.run(async () => {
      started.push('newcomer');
      return 'came later';
    });
    expect(await waiting).toBe('waited');
    expect(await newcomer).toBe('came later');
    expect(started).toEqual(['failing', 'waiting', 'newcomer']);
  });

  test('a call inherits the urgency of the phase it is made under, through every await; outside any, it waits its turn', async () => {
    expect(currentUrgency()).toBe('in-turn');
    const seen = await withUrgency('in-window', async () => {
      await turn();
      const nested = await Promise.all([turn().then(currentUrgency), new Promise<Urgency>((resolve) => setTimeout(() => resolve(currentUrgency()), 1))]);
      return [currentUrgency(), ...nested];
    });
    expect(seen).toEqual(['in-window', 'in-window', 'in-window']);
    expect(currentUrgency()).toBe('in-turn');
  });
});
