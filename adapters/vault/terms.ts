/**
 * The terms a Vault resource is granted by, named as the contract asks (`vault.…`): the point of
 * use offers them in its {@link Resource}, a grant source reads them and nothing else of the point
 * of use. One module, so both halves spell them the same way.
 */
import type { GrantContext } from '../contract.ts';

export const TERMS = {
  /** The ACL policy that reads the resource: what a grant must carry, and what residue is counted by. */
  policy: 'vault.policy',
  /** The KV v2 data path of the secret (`secret/data/jitc/…`), for what a grant reports as its scope. */
  secretPath: 'vault.secret-path',
} as const;

/**
 * A term of the resource; its absence is a wiring error, not a target's answer. An empty one is
 * what a point of use over an existing secret offers for the policy: a grant must then name an
 * existing role, whose own policies read it.
 */
export function term(ctx: GrantContext<unknown, unknown>, name: string): string {
  const value = ctx.resource.terms[name];
  if (value === '') throw new Error(`the point of use ${ctx.pointOfUse.name} names an existing resource and offers no ${name} to grant by: name an existing role for the grant (role:)`);
  if (value === undefined) throw new Error(`the point of use ${ctx.pointOfUse.name} offers no term ${name}`);
  return value;
}
