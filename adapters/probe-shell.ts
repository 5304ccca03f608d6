/**
 * The one shell every probe of a credential runs in: the action succeeding is `allowed`; a failure
 * is read by the adapter's own reader, the only place that may call it `denied` (each adapter's
 * probes.ts header says which answers count). A reader cannot turn a failure into `allowed`.
 */
import type { ProbeResult } from './contract.ts';

export interface FailureReading {
  outcome: 'denied' | 'unknown';
  detail: string;
}

export async function probeWith(action: () => Promise<string | void>, read: (error: unknown) => FailureReading): Promise<ProbeResult> {
  try {
    const detail = await action();
    return { outcome: 'allowed', at: new Date().toISOString(), detail: detail || 'HTTP 200' };
  } catch (error) {
    const at = new Date().toISOString();
    return { ...read(error), at };
  }
}
