/**
 * Reading Vault's answers as tri-state probes. What counts as `denied`, exactly:
 *
 * - HTTP 403 whose body is Vault's own JSON error document (`{"errors": [...]}`, a list of
 *   strings) with the item "permission denied" (also when nested as
 *   "1 error occurred:\n\t* permission denied");
 * - HTTP 400 whose body is Vault's JSON error document with an item saying the credential is gone,
 *   from the endpoint family the probe names ({@link GONE}): an invalid accessor, an invalid or
 *   expired secret_id, a wrapping token that is not valid, a lease Vault no longer holds.
 *
 * A read from another source address (a token bound to CIDRs tried from outside them) is `denied`
 * on the 403 "permission denied" alone: OpenBao answers a use outside `token_bound_cidrs` so, in
 * the same words as a missing policy; the read from the bound address right after tells the two
 * apart (scenarios/drift.ts).
 *
 * Everything else is `unknown`: a 403 with an HTML page, an empty body or any other body (a proxy,
 * WAF or gateway said no; Vault was never asked), a 403 whose Vault error is not "permission
 * denied", any other 400, 5xx, timeouts, refused or reset connections.
 *
 * An extension attempt (a holder trying to stretch its own grant) is `refused` on the same terms,
 * plus Vault's own error document with a text from {@link REFUSED}, by which it declines to renew or
 * mint, or one saying the token is gone ({@link GONE}: a token that no longer exists was not
 * stretched): with HTTP 400, or with HTTP 500 for "past the max TTL, cannot renew" (what Vault
 * answers a renewal of a token at its cap) and "no token entry found during lookup" (a renewal
 * racing the token's own expiry). A 500 with any other text stays `unknown`.
 */
import type { ProbeResult } from '../contract.ts';
import { describeVaultError } from './api.ts';
import { probeWith } from '../probe-shell.ts';

/** The 400 answers that mean "this credential is gone", per endpoint family. */
export const GONE = {
  accessor: /^(invalid accessor|(token|accessor).*(not found|does not exist))$/i,
  secretId: /^(invalid (role or )?secret id|secret id.*(not found|expired|invalid)|failed to validate credentials.*)$/i,
  wrapping: /^(wrapping token is not valid or does not exist|invalid wrapping token)$/i,
  lease: /^invalid lease$/i,
} as const;

/**
 * The 400 answers with which Vault declines to renew a token or to mint one with it. "invalid lease
 * ID" is a renewal of a token whose lease the expiration manager has already reaped (its entry
 * goes a moment later): nothing was renewed.
 */
export const REFUSED =
  /^(lease is not renewable|lease expired|invalid lease id|token (is )?not renewable|batch tokens cannot be (renewed|revoked)|batch tokens cannot create more tokens|root or sudo privileges required to create orphan token)$/i;

/**
 * The 500 answers that are a refusal: renewing a token at its max TTL, or one that expired as it
 * was asked (the expiration manager's renewal, which prefixes its own words, finds no entry).
 */
const REFUSED_500 = /^(failed to renew entry: )?(past the max TTL, cannot renew|no token entry found during lookup)$/i;

const PERMISSION_DENIED = /^permission denied$/i;

export type Reading = { denied: true; detail: string } | { denied: false; detail: string };

/** Read a failed call: was it Vault's own specific refusal (403 permission denied, or a 400 text `specific` names)? */
export function readRefusal(error: unknown, specific?: RegExp): Reading {
  const { status, message, vaultErrors } = describeVaultError(error);
  if (status === undefined) return { denied: false, detail: `no answer: ${message}` };
  const items = vaultErrors ?? [];
  if (status === 403 && items.some((item) => PERMISSION_DENIED.test(item))) return { denied: true, detail: `HTTP 403 ${message}` };
  if (status === 400 && specific && items.some((item) => specific.test(item))) return { denied: true, detail: `HTTP 400 ${message}` };
  if (status === 403 && vaultErrors === null) return { denied: false, detail: `unrecognised answer: HTTP 403 ${message}: not Vault's own denial` };
  return { denied: false, detail: `unrecognised answer: HTTP ${status} ${message}` };
}

/** Vault's own 400 saying the credential no longer exists (a 403 is not that: it may be a missing permission). */
export function saysGone(error: unknown, gone: RegExp): boolean {
  const { status, vaultErrors } = describeVaultError(error);
  return status === 400 && (vaultErrors ?? []).some((item) => gone.test(item));
}

/** Read a failed extension attempt: refused only by Vault's own answer (see the header). */
export function readExtensionRefusal(error: unknown): Reading {
  const { status, message, vaultErrors } = describeVaultError(error);
  if (status === 500 && (vaultErrors ?? []).some((item) => REFUSED_500.test(item))) return { denied: true, detail: `HTTP 500 ${message}` };
  return readRefusal(error, new RegExp(`${REFUSED.source}|${GONE.accessor.source}`, 'i'));
}

export function probe(action: () => Promise<unknown>, gone?: RegExp): Promise<ProbeResult> {
  return probeWith(
    async () => {
      await action();
    },
    (error) => {
      const reading = readRefusal(error, gone);
      return { outcome: reading.denied ? 'denied' : 'unknown', detail: reading.detail };
    },
  );
}
