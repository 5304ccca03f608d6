/**
 * This process's own lag: how late its timers fire. A loaded machine delays the harness as well as
 * the target, and only the harness's share can be measured from here; a verdict that hangs on a
 * duration must not blame the target for time this process spent unable to run.
 *
 * A timer due every `intervalMs` records when it fired and how late. A tick that fired `late` ms
 * after it was due means the event loop could not run for those `late` ms before it.
 */
export interface LoopLag {
  /** The worst lateness of the last few ticks, counting a stall still under way: how late the loop is now. */
  current(): number;
  /** How long, between two instants (epoch ms), this process could not run its timers. */
  during(from: number, to: number): number;
}

export function loopLagMonitor(intervalMs = 20, recentSamples = 10, keepMs = 120_000): LoopLag {
  // A ring of the last `keepMs` of ticks: when each fired and how late.
  const size = Math.ceil(keepMs / intervalMs);
  const firedAt = new Float64Array(size);
  const lateBy = new Float64Array(size);
  let count = 0;
  let next = 0;
  let expected = Date.now() + intervalMs;
  const timer = setInterval(() => {
    const now = Date.now();
    firedAt[next] = now;
    lateBy[next] = Math.max(0, now - expected);
    next = (next + 1) % size;
    count = Math.min(count + 1, size);
    expected = now + intervalMs;
  }, intervalMs);
  // It never keeps a process alive.
  timer.unref();
  const sample = (back: number): { at: number; late: number } => {
    const i = (next - 1 - back + size * 2) % size;
    return { at: firedAt[i]!, late: lateBy[i]! };
  };
  // A stall still under way has not produced its tick yet: it counts from the due time.
  const pending = (now: number): { from: number; to: number } => ({ from: expected, to: now });
  return {
    current() {
      const now = Date.now();
      let worst = Math.max(0, now - expected);
      for (let back = 0; back < Math.min(recentSamples, count); back++) worst = Math.max(worst, sample(back).late);
      return worst;
    },
    during(from, to) {
      const overlap = (start: number, end: number): number => Math.max(0, Math.min(end, to) - Math.max(start, from));
      const stall = pending(Date.now());
      let total = overlap(stall.from, stall.to);
      for (let back = 0; back < count; back++) {
        const { at, late } = sample(back);
        if (at <= from) break;
        total += overlap(at - late, at);
      }
      return total;
    },
  };
}

let shared: LoopLag | undefined;

/** The process's one monitor, shared by admission and by the judgement of end calls. */
export function processLoopLag(): LoopLag {
  shared ??= loopLagMonitor();
  return shared;
}
