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

/** A term of the resource; its absence is a wiring error, not a target's answer. */
export function term(ctx: GrantContext<unknown, unknown>, name: string): string {
  const value = ctx.resource.terms[name];
  if (value === undefined || value === '') throw new Error(`the point of use ${ctx.pointOfUse.name} offers no term ${name}`);
  return value;
}
