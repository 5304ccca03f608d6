/**
 * The terms an identity-provider resource is granted by, as the `resource-server` point of use
 * offers them and a grant source of tokens needs them (`idp.…`). One module, so both halves spell
 * them alike.
 */
import type { GrantContext } from '../contract.ts';

export const TERMS = {
  /** The realm everything of the scenario lives in (named with the scenario's prefix). */
  realm: 'idp.realm',
  /** The client id of the resource server a token must be meant for (its audience). */
  audience: 'idp.audience',
} as const;

export function term(ctx: GrantContext<unknown, unknown>, name: string): string {
  const value = ctx.resource.terms[name];
  if (!value) throw new Error(`the point of use ${ctx.pointOfUse.name} offers no term ${name}`);
  return value;
}
