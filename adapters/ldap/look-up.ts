/**
 * Whether the directory holds an entry named by its DN: one base search by the broker's admin
 * connection, asking for no attributes. noSuchObject (32), the directory's own answer, alone is
 * `gone`. A directory answers noSuchObject for an entry its ACLs hide from the bind too, so this
 * relies on what every residue read of the adapter relies on: the configured bind reads the whole
 * tree under the base (the local target's rootdn does). Any other answer or none is
 * `unknown`. A DN outside the directory's base is `unknown` too: a directory answers noSuchObject
 * for a naming context it does not hold, which says nothing about the entry.
 */
import type { LookUpResult } from '../contract.ts';
import type { LdapClient } from './client.ts';
import { describeLdapError } from './probes.ts';

/** One RDN (`cn=name`, escaped commas allowed in the value), a DN being RDNs joined by commas. */
const DN = /^[A-Za-z][\w.-]*=(?:[^,\\]|\\.)+(?:,[A-Za-z][\w.-]*=(?:[^,\\]|\\.)+)*$/;

/** Spaces around separators and the case of the names do not make two DNs apart (RFC 4514). */
function normal(dn: string): string {
  return dn
    .trim()
    .replace(/\s*([,=+])\s*/g, '$1')
    .toLowerCase();
}

export async function lookUpLdap(client: LdapClient, ref: string): Promise<LookUpResult> {
  const dn = normal(ref);
  if (!DN.test(dn)) return { state: 'unknown', detail: `${ref} is not a DN` };
  const base = normal(client.layout.baseDn);
  if (dn !== base && !dn.endsWith(`,${base}`)) return { state: 'unknown', detail: `${ref} is outside the directory's base ${client.layout.baseDn}` };
  try {
    const result = await client.admin.search(ref.trim(), { scope: 'base', attributes: ['1.1'] });
    if (result.searchEntries.length > 0) return { state: 'present', detail: `base search of ${ref}: found` };
    return { state: 'unknown', detail: `base search of ${ref} returned no entry and no error` };
  } catch (error) {
    const answer = describeLdapError(error);
    if (answer.kind === 'result' && answer.code === 32) return { state: 'gone', detail: `base search of ${ref}: ${answer.text}` };
    return { state: 'unknown', detail: `base search of ${ref}: ${answer.kind === 'result' ? answer.text : `no answer: ${answer.text}`}` };
  }
}
