/**
 * The evidence of one scenario: a timeline of timestamped events, written by the engine and both
 * halves. Details are redacted against the scenario's secret registry as they are recorded.
 */
import type { SecretRegistry } from './secrets.ts';

export type Phase = 'setup' | 'baseline' | 'request' | 'use' | 'end' | 'reuse' | 'residue' | 'teardown';
export const PHASES: readonly Phase[] = ['setup', 'baseline', 'request', 'use', 'end', 'reuse', 'residue', 'teardown'];

export interface EvidenceEvent {
  at: string;
  phase: Phase;
  /** What happened, in words a reviewer reads: "grant issued", "reuse attempt 3 denied". */
  event: string;
  data?: Record<string, unknown>;
  /** Set on every event of a break-glass scenario: what an auditor filters the evidence on. */
  breakGlass?: true;
}

export class Evidence {
  readonly events: EvidenceEvent[] = [];
  #phase: Phase = 'setup';

  constructor(
    private readonly secrets: SecretRegistry,
    private readonly flags: { breakGlass?: boolean } = {},
  ) {}

  get phase(): Phase {
    return this.#phase;
  }

  enter(phase: Phase): void {
    this.#phase = phase;
  }

  record(event: string, data?: Record<string, unknown>, at: Date = new Date()): EvidenceEvent {
    const entry: EvidenceEvent = { at: at.toISOString(), phase: this.#phase, event: this.secrets.redact(event) };
    if (data !== undefined) entry.data = this.secrets.redactValue(data);
    if (this.flags.breakGlass) entry.breakGlass = true;
    this.events.push(entry);
    return entry;
  }

  /** The first event of a phase whose name starts with `event`, for timing figures. */
  find(phase: Phase, event: string): EvidenceEvent | undefined {
    return this.events.find((e) => e.phase === phase && e.event.startsWith(event));
  }
}
