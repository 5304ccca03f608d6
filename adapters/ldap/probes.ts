/**
 * Reading a directory's answers as tri-state probes.
 *
 * Only the directory's own LDAP result code counts (an ldapts ResultCodeError carrying the
 * resultCode of the server's response); the text that comes with it is never parsed. A denial is:
 * - invalidCredentials (49) to a bind: the credential (or the whole account) is gone;
 * - insufficientAccessRights (50) to any operation;
 * - noSuchObject (32) to a read or lookup of an entry the harness knows exists (or existed): the
 *   entry is gone, or the ACL no longer discloses it.
 * Everything else is `unknown`: connection refused, timeouts, a closed connection, TLS failures,
 * an error raised by the client library itself, and every other result code — unwillingToPerform
 * (53) included, which slapd also answers for a replica that cannot take writes, busy (51),
 * unavailable (52), operationsError (1), other (80).
 *
 * The holder's attempts to extend its own grant (extension.ts) are read the same way: `refused`
 * only on invalidCredentials (49) to its bind, insufficientAccessRights (50) or noSuchObject (32)
 * to the refresh or the membership write — RFC 2589 §4.2 names exactly these for a refresh the
 * requester may not make or whose entry is gone. sizeLimitExceeded (4, "TTL too large") and
 * objectClassViolation (65, "not dynamic") are not refusals of the holder: they say nothing about
 * a smaller TTL or another entry, so they stay `unknown`.
 *
 * A bind and read from another source address (a grant bound to its context tried from elsewhere)
 * is `denied` only by the read's refusal above, the ACL's own; a refused bind there is `unknown`.
 *
 * Every probe opens its own connection (bindAndRead, lookupEntry's broker bind); only the probe of
 * a session kept open across the end reuses a connection, because that session is what it tests.
 *
 * The read probe. OpenLDAP (and Active Directory) answer a search for an attribute the ACL hides
 * with the entry and no attribute — success, not an error. So a read returns `allowed` when the
 * attribute comes back with a value; when it does not, the probe asks the same connection to
 * compare that attribute (with a value that is not the secret): an ACL that denies the read denies
 * the compare with insufficientAccessRights (50), which is the denial recorded. If the compare is
 * answered instead, the attribute is merely absent and the probe says `unknown`.
 */
import { type Client, ResultCodeError } from 'ldapts';
import type { ProbeResult } from '../contract.ts';
import { values } from './client.ts';

export type ProbeContext = 'bind' | 'read' | 'lookup';

const RESULT_NAMES: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  11: 'adminLimitExceeded',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  16: 'noSuchAttribute',
  17: 'undefinedAttributeType',
  19: 'constraintViolation',
  21: 'invalidAttributeSyntax',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  65: 'objectClassViolation',
  68: 'entryAlreadyExists',
  80: 'other',
};

export type LdapAnswer = { kind: 'result'; code: number; text: string } | { kind: 'no-answer'; text: string };

/** What went wrong, as data: the directory's LDAP result code, or no LDAP answer at all. */
export function describeLdapError(error: unknown): LdapAnswer {
  if (error instanceof ResultCodeError) {
    const name = RESULT_NAMES[error.code] ?? 'result';
    return { kind: 'result', code: error.code, text: `${name} (${error.code})` };
  }
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = e && typeof e.code === 'string' ? e.code : undefined;
  // The whole message, on one line: a connection error's later lines say why.
  const message = e && typeof e.message === 'string' ? e.message.replace(/\s*\n\s*/g, ' | ').trim() : String(error);
  return { kind: 'no-answer', text: code ? `${code}${message && !message.includes(code) ? `: ${message}` : ''}` : message || 'unknown error' };
}

export function ldapErrorText(error: unknown): string {
  return describeLdapError(error).text;
}

/** The tri-state reading of a failed operation. */
export function classifyLdapError(error: unknown, context: ProbeContext, at = new Date()): ProbeResult {
  const iso = at.toISOString();
  const answer = describeLdapError(error);
  if (answer.kind === 'no-answer') return { outcome: 'unknown', at: iso, detail: `no answer: ${answer.text}` };
  if (answer.code === 50) return { outcome: 'denied', at: iso, detail: answer.text };
  if (answer.code === 49 && context === 'bind') return { outcome: 'denied', at: iso, detail: `bind refused: ${answer.text}` };
  if (answer.code === 32 && context !== 'bind') return { outcome: 'denied', at: iso, detail: answer.text };
  return { outcome: 'unknown', at: iso, detail: `unrecognised answer to a ${context}: ${answer.text}` };
}

export interface ReadTarget {
  dn: string;
  attribute: string;
}

/** A value that is never the protected one: the compare only asks whether comparing is allowed. */
const COMPARE_PROBE_VALUE = 'jitc-compare-probe';

/**
 * Read the protected attribute on an already bound connection. `onValue` receives what was read,
 * so the caller can register it as a secret; the result carries only the count.
 */
export async function readProtected(session: Client, target: ReadTarget, onValue: (value: string) => void = () => undefined): Promise<ProbeResult> {
  if (!session.isConnected) return { outcome: 'unknown', at: new Date().toISOString(), detail: 'the connection is closed; it is not reopened, which would read anonymously' };
  let found: string[];
  try {
    const result = await session.search(target.dn, { scope: 'base', attributes: [target.attribute] });
    const entry = result.searchEntries[0];
    if (!entry) return { outcome: 'unknown', at: new Date().toISOString(), detail: `base search of ${target.dn} returned no entry and no error` };
    found = values(entry, target.attribute);
  } catch (error) {
    return classifyLdapError(error, 'read');
  }
  if (found.length > 0) {
    found.forEach(onValue);
    return { outcome: 'allowed', at: new Date().toISOString(), detail: `read ${target.attribute} of ${target.dn} (${found.length} value${found.length === 1 ? '' : 's'})` };
  }
  try {
    const matched = await session.compare(target.dn, target.attribute, COMPARE_PROBE_VALUE);
    return {
      outcome: 'unknown',
      at: new Date().toISOString(),
      detail: `${target.attribute} of ${target.dn} came back empty, yet a compare on it was answered (${matched ? 'compareTrue' : 'compareFalse'}): the attribute is missing, not withheld`,
    };
  } catch (error) {
    const classified = classifyLdapError(error, 'read');
    if (classified.outcome === 'denied') {
      return { ...classified, detail: `${target.attribute} withheld from the search; compare answered ${classified.detail}` };
    }
    return classified;
  }
}

/**
 * Bind a new connection as `dn`, read, and close it. `refusedBind: 'unknown'` for a read whose
 * denial must be the ACL's alone (a bind tried from another address: a refused bind there says the
 * credential is gone, not that the address was refused).
 */
export async function bindAndRead(
  open: () => Client,
  dn: string,
  password: string,
  target: ReadTarget,
  onValue?: (value: string) => void,
  refusedBind: 'denied' | 'unknown' = 'denied',
): Promise<ProbeResult> {
  const client = open();
  try {
    try {
      await client.bind(dn, password);
    } catch (error) {
      const refused = classifyLdapError(error, 'bind');
      return refused.outcome === 'denied' && refusedBind === 'unknown' ? { ...refused, outcome: 'unknown', detail: `${refused.detail}: not a refusal of the address` } : refused;
    }
    return await readProtected(client, target, onValue);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * Does the directory still hold `dn`? Looked up by the broker on a NEW connection (to the target,
 * or to one node of it): `allowed` when it does, `denied` on noSuchObject. A broker that cannot
 * bind proves nothing about the entry: `unknown`.
 */
export async function lookupEntry(openBroker: () => Promise<Client>, dn: string): Promise<ProbeResult> {
  let client: Client;
  try {
    client = await openBroker();
  } catch (error) {
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `the broker could not bind to look ${dn} up: ${ldapErrorText(error)}` };
  }
  try {
    const result = await client.search(dn, { scope: 'base', attributes: ['1.1'] });
    if (result.searchEntries.length > 0) return { outcome: 'allowed', at: new Date().toISOString(), detail: `the directory still holds ${dn}` };
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `base search of ${dn} returned nothing and no error` };
  } catch (error) {
    const classified = classifyLdapError(error, 'lookup');
    return classified.outcome === 'denied' ? { ...classified, detail: `${dn}: ${classified.detail}` } : classified;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** Who the server says a connection is bound as (RFC 4532 "Who am I?"): `dn:…`, `` for anonymous. */
export async function whoAmI(session: Client): Promise<string> {
  if (!session.isConnected) return '(connection closed)';
  try {
    const answer = await session.exop('1.3.6.1.4.1.4203.1.11.3');
    return answer.value === undefined || answer.value === '' ? 'anonymous' : answer.value;
  } catch (error) {
    return `(no answer: ${ldapErrorText(error)})`;
  }
}
