/**
 * How soon a call to a target must be answered, and a gate that answers the most urgent first.
 *
 * A target that handles its requests one after another (moto is one Python process) answers them
 * in the order they queue. With hundreds of scenarios at once, the calls that have no deadline (a
 * teardown deleting a role, a residue read listing keys) and the reuse polls of scenarios already
 * past their end queue ahead of a new grant's first use, and a 3 s session ends before its
 * in-window attempts are answered: nothing about the target is tested. A gate in front of such a
 * target keeps only a few calls before it at once and lets the waiting ones through by urgency,
 * so the queue that grows is the harness's own, ordered, rather than the target's, first come.
 *
 * The engine states the urgency of each lifecycle phase (`withUrgency`); a call inherits it
 * through every await of the phase that makes it, so adapters pass nothing along. In the same way
 * a caller learns when its calls really left the gate (`departed`): a probe that waited there
 * was not yet asking the target, and is timed from when it was.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * - `in-window`: between the grant's request and the end of its in-window attempts: the TTL is
 *   running, and admission (scenarios/admission.ts) bounds how many calls are this urgent at once.
 * - `in-turn`: everything else, first come. The probes after the end are timed too, but ranking
 *   them above setups and baselines starved those behind hundreds of polls, and with them the
 *   start of every scenario still waiting (in one 500-copy run a baseline waited 5 s and the run
 *   took 17.9 s against 12.5); so they keep their turn.
 */
export type Urgency = 'in-window' | 'in-turn';

const current = new AsyncLocalStorage<Urgency>();
/** Where the calls made under `departed` note when they left the gate. */
const departures = new AsyncLocalStorage<{ leftAt: number | undefined }>();

export function withUrgency<T>(urgency: Urgency, body: () => Promise<T>): Promise<T> {
  return current.run(urgency, body);
}

export function currentUrgency(): Urgency {
  return current.getStore() ?? 'in-turn';
}

/**
 * Run `body` and say when the last call it made left a gate: the moment the target could first
 * have been asked. Undefined when no call passed a gate (a target without one).
 */
export async function departed<T>(body: () => Promise<T>): Promise<{ value: T; leftAt: number | undefined }> {
  const record: { leftAt: number | undefined } = { leftAt: undefined };
  const value = await departures.run(record, body);
  return { value, leftAt: record.leftAt };
}

/** At most `width` calls under way at once; the next to go is the oldest of the most urgent waiting. */
export class CallGate {
  private underWay = 0;
  private readonly waiting: Record<Urgency, (() => void)[]> = { 'in-window': [], 'in-turn': [] };

  constructor(readonly width: number) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.underWay < this.width) this.underWay += 1;
    else await new Promise<void>((go) => this.waiting[currentUrgency()].push(go));
    const record = departures.getStore();
    if (record) record.leftAt = Date.now();
    try {
      return await call();
    } finally {
      // The slot passes straight to the next caller, so a burst of arrivals cannot overtake it.
      const next = this.waiting['in-window'].shift() ?? this.waiting['in-turn'].shift();
      if (next) next();
      else this.underWay -= 1;
    }
  }
}
