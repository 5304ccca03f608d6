/**
 * Messages between the CLI and the suites running in its worker threads: the CLI asks them to
 * stop (Ctrl-C), they tell it what they wait for, so the terminal shows expiry countdowns.
 */
import { BroadcastChannel } from 'node:worker_threads';

export type RunMessage =
  | { type: 'abort'; reason: string }
  | { type: 'wait'; scenario: string; what: string; msLeft: number }
  | { type: 'finished'; scenario: string; verdict: string };

export function runChannel(runId: string): BroadcastChannel {
  return new BroadcastChannel(`jitc-run-${runId}`);
}

export function post(channel: BroadcastChannel, message: RunMessage): void {
  channel.postMessage(message);
}
