/**
 * Whether the Vault/OpenBao target holds an object named by its API path (`sys/policies/acl/<name>`,
 * `auth/approle/role/<name>`, `identity/entity/name/<name>`): one GET with the admin token. Vault
 * answers a read of an object it does not hold with 404 and its own error document, an empty list
 * of errors: that alone is `gone`. A 404 that says something ("no handler for route": no such
 * mount or endpoint) names no object at all, and a 404 without Vault's document comes from
 * something in front of it; both are `unknown`, like every other answer.
 *
 * Some of Vault's GETs issue (`database/creds/<role>`, `aws/sts/<role>`), and jitc's look-up must
 * change nothing: only paths that read an object's configuration are asked, by the kind of object
 * the segment before the name says (a role, a policy, an identity, a user, a group, a key, a KV
 * secret's metadata). Any other path is `unknown`, saying so.
 */
import type { LookUpResult } from '../contract.ts';
import { describeVaultError } from './api.ts';
import type { VaultClient } from './client.ts';

/** An API path as a broker names it: segments of the characters Vault's names use, no scheme, query or `..`. */
const API_PATH = /^(?:\/?v1\/)?((?:[A-Za-z0-9_.@=+-]+\/)*[A-Za-z0-9_.@=+-]+)$/;

/** The segment before an object's name in a read of its configuration. */
const OBJECT_KINDS: ReadonlySet<string> = new Set(['role', 'roles', 'static-roles', 'policy', 'acl', 'name', 'id', 'users', 'groups', 'keys']);

function readsConfiguration(segments: readonly string[]): boolean {
  // A KV secret's metadata names no value, and its path may hold slashes of its own.
  if (segments.indexOf('metadata') > 0 && segments.indexOf('metadata') < segments.length - 1) return true;
  return segments.length >= 2 && OBJECT_KINDS.has(segments[segments.length - 2]!);
}

export async function lookUpVault(client: VaultClient, ref: string): Promise<LookUpResult> {
  const path = API_PATH.exec(ref)?.[1];
  const segments = path?.split('/') ?? [];
  if (!path || segments.some((segment) => segment === '.' || segment === '..')) {
    return { state: 'unknown', detail: `${ref} is not a Vault API path (such as sys/policies/acl/<name>)` };
  }
  if (!readsConfiguration(segments)) {
    return { state: 'unknown', detail: `${ref} is not a read of an object's configuration (…/role/<name>, sys/policies/acl/<name>, identity/entity/name/<name>, <kv>/metadata/<path>): not asked, since some reads issue` };
  }
  try {
    await client.api.send('GET', path);
    return { state: 'present', detail: `GET ${path}: 200` };
  } catch (error) {
    const e = describeVaultError(error);
    if (e.status === 404 && e.vaultErrors !== null && e.vaultErrors.length === 0) return { state: 'gone', detail: `GET ${path}: HTTP 404` };
    return { state: 'unknown', detail: `GET ${path}: ${e.status === undefined ? 'no answer' : `HTTP ${e.status}`} ${e.message}` };
  }
}
