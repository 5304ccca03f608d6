/**
 * Reading Vault's answers as tri-state probes. A denial is recognised only from Vault's specific
 * answer: HTTP 403 (permission denied), or the 400 texts Vault gives for a credential it no longer
 * knows. Network errors, timeouts, 5xx and anything else are `unknown`.
 */
import type { ProbeResult } from '../contract.ts';
import { describeVaultError } from './api.ts';

/** The 400 answers that mean "this credential is gone", per endpoint family. */
export const GONE = {
  accessor: /invalid accessor|(token|accessor).*(not found|does not exist)/i,
  secretId: /invalid (role or )?secret id|secret id.*(not found|expired|invalid)|failed to validate credentials/i,
  wrapping: /wrapping token is not valid|does not exist|invalid wrapping token/i,
  token: /bad token|invalid token|token.*(not found|expired|revoked)/i,
} as const;

export async function probe(action: () => Promise<unknown>, gone?: RegExp): Promise<ProbeResult> {
  try {
    await action();
    return { outcome: 'allowed', at: new Date().toISOString(), detail: 'HTTP 200' };
  } catch (error) {
    const at = new Date().toISOString();
    const { status, message } = describeVaultError(error);
    if (status === 403) return { outcome: 'denied', at, detail: `HTTP 403 ${message}` };
    if (status === 400 && gone?.test(message)) return { outcome: 'denied', at, detail: `HTTP 400 ${message}` };
    if (status === undefined) return { outcome: 'unknown', at, detail: `no answer: ${message}` };
    return { outcome: 'unknown', at, detail: `unrecognised answer: HTTP ${status} ${message}` };
  }
}
