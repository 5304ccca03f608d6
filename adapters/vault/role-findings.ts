/**
 * Judging a token role or an AppRole role the organisation configured, by its own settings, before
 * any grant: what the role lets a token (and, for AppRole, a secret_id) become whatever a single
 * request asks for. Pure: the settings are read from the target elsewhere (grants/token.ts,
 * grants/approle.ts).
 *
 * `role-within-window` — the longest a token of the role can live must end within the approval
 * window (1 s rounding):
 * - a period (token_period) without an explicit max TTL renews without end: fail;
 * - otherwise the smallest cap the role sets (token_explicit_max_ttl, token_max_ttl, or the legacy
 *   explicit_max_ttl) bounds it; a role that sets none leaves the auth mount's max_lease_ttl (as
 *   tuned) as the only bound, which any request may ask for; a mount max that cannot be read
 *   leaves the verdict inconclusive;
 * - AppRole: the secret_id is the grant, so a secret_id_ttl of 0 (never expires) or one past the
 *   window fails as well;
 * - renewable, orphan, token_num_uses and secret_id_num_uses are stated in the detail: none of them
 *   lets a token outlive the bound above by itself (a single-use secret_id is judged by reuse).
 *
 * `role-trust-narrow` — who may reach the privilege through the role besides the broker:
 * - AppRole with bind_secret_id false: the role_id alone logs in, no grant needed: fail;
 * - token role whose allowed_entity_aliases holds "*": any caller of the role may mint a token for
 *   any identity: fail;
 * - otherwise pass, with a note on bound CIDRs (token_bound_cidrs, secret_id_bound_cidrs) or their
 *   absence. Who may call auth/token/create/<role> or read the role_id is set by policies, which
 *   jitc does not scan: the note says so.
 */
import type { Finding } from '../contract.ts';

/** A role as Vault answers `GET auth/token/roles/<name>` or `GET auth/<mount>/role/<name>`. */
export type RoleSettings = Readonly<Record<string, unknown>>;

const ROUNDING_SECONDS = 1;

function num(role: RoleSettings, key: string): number {
  const value = role[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function list(role: RoleSettings, key: string): string[] {
  const value = role[key];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return typeof value === 'string' && value !== '' ? value.split(',').map((v) => v.trim()) : [];
}

/** The longest a token of the role can live, and what bounds it; `seconds: null` is no end, `undefined` unknown. */
export interface TokenReach {
  seconds: number | null | undefined;
  because: string;
}

export function tokenReach(role: RoleSettings, mountMaxTtl: number | null): TokenReach {
  const period = num(role, 'token_period') || num(role, 'period');
  const explicit = num(role, 'token_explicit_max_ttl') || num(role, 'explicit_max_ttl');
  if (period > 0 && explicit === 0) return { seconds: null, because: `token_period ${period} s without token_explicit_max_ttl: its tokens renew without end` };
  const caps = [
    ['token_explicit_max_ttl', explicit],
    ['token_max_ttl', num(role, 'token_max_ttl')],
  ].filter((cap): cap is [string, number] => (cap[1] as number) > 0);
  if (caps.length > 0) {
    const [name, seconds] = caps.reduce((a, b) => (b[1] < a[1] ? b : a));
    return { seconds, because: `${name} ${seconds} s` };
  }
  if (mountMaxTtl === null) return { seconds: undefined, because: "the role sets no max TTL and the auth mount's max_lease_ttl could not be read" };
  if (mountMaxTtl === 0) return { seconds: null, because: 'the role sets no max TTL and the auth mount states none' };
  return { seconds: mountMaxTtl, because: `the role sets no max TTL: only the auth mount's max_lease_ttl of ${mountMaxTtl} s bounds a request` };
}

function withinWindow(seconds: number | null | undefined, windowSeconds: number): Finding['verdict'] {
  if (seconds === undefined) return 'inconclusive';
  return seconds !== null && seconds <= windowSeconds + ROUNDING_SECONDS ? 'pass' : 'fail';
}

function stated(role: RoleSettings): string {
  const uses = num(role, 'token_num_uses');
  return [
    role.renewable === false ? 'not renewable' : 'renewable',
    role.orphan === true ? 'orphan tokens (not revoked with their parent)' : 'tokens revoked with their parent',
    uses === 0 ? 'unlimited uses' : `${uses} uses`,
  ].join(', ');
}

function cidrNote(bound: string[], what: string): string {
  return bound.length > 0 ? `${what} bound to ${bound.join(', ')}` : `no ${what}: usable from any address`;
}

const POLICIES_NOT_SCANNED = 'who may use the role is set by policies, which are not scanned';

/** Findings for a token role (`auth/token/roles/<name>`). */
export function judgeTokenRole(name: string, role: RoleSettings, mountMaxTtl: number | null, windowSeconds: number): Finding[] {
  const reach = tokenReach(role, mountMaxTtl);
  const verdict = withinWindow(reach.seconds, windowSeconds);
  const lives = reach.seconds === undefined ? 'how long its tokens may live is unknown' : reach.seconds === null ? 'its tokens may live without end' : `its tokens live at most ${reach.seconds} s`;
  const aliases = list(role, 'allowed_entity_aliases');
  const anyAlias = aliases.includes('*');
  const cidrs = cidrNote(list(role, 'token_bound_cidrs').concat(list(role, 'bound_cidrs')), 'token_bound_cidrs');
  return [
    {
      check: 'role-within-window',
      verdict,
      detail: `token role ${name}: ${lives} (${reach.because}), ${verdict === 'pass' ? 'within' : verdict === 'fail' ? 'past' : 'judged against'} the approval window of ${windowSeconds} s; ${stated(role)}`,
    },
    anyAlias
      ? { check: 'role-trust-narrow', verdict: 'fail', detail: `token role ${name}: allowed_entity_aliases holds "*": any caller of the role may mint a token for any identity; ${cidrs}` }
      : { check: 'role-trust-narrow', verdict: 'pass', detail: `token role ${name}: ${cidrs}; ${POLICIES_NOT_SCANNED}` },
  ];
}

/** Findings for an AppRole role (`auth/<mount>/role/<name>`). */
export function judgeAppRole(name: string, role: RoleSettings, mountMaxTtl: number | null, windowSeconds: number): Finding[] {
  const secretIdTtl = num(role, 'secret_id_ttl');
  const secretIdVerdict: Finding['verdict'] = secretIdTtl > 0 && secretIdTtl <= windowSeconds + ROUNDING_SECONDS ? 'pass' : 'fail';
  const secretId = secretIdTtl === 0 ? 'secret_id_ttl 0: its secret_ids never expire' : `secret_ids live ${secretIdTtl} s`;
  const reach = tokenReach(role, mountMaxTtl);
  const tokenVerdict = withinWindow(reach.seconds, windowSeconds);
  const verdicts = [secretIdVerdict, tokenVerdict];
  const verdict: Finding['verdict'] = verdicts.includes('fail') ? 'fail' : verdicts.includes('inconclusive') ? 'inconclusive' : 'pass';
  const lives = reach.seconds === undefined ? 'how long its login tokens may live is unknown' : reach.seconds === null ? 'its login tokens may live without end' : `its login tokens live at most ${reach.seconds} s`;
  const secretIdUses = num(role, 'secret_id_num_uses');
  const tokenTtl = num(role, 'token_ttl');
  const bound = [...list(role, 'secret_id_bound_cidrs'), ...list(role, 'token_bound_cidrs')];
  const cidrs = cidrNote(bound, 'secret_id_bound_cidrs or token_bound_cidrs');
  return [
    {
      check: 'role-within-window',
      verdict,
      detail: `AppRole role ${name}: ${secretId}; ${lives} (${reach.because}); approval window ${windowSeconds} s; ${secretIdUses === 0 ? 'secret_ids log in any number of times' : `secret_ids log in ${secretIdUses} time(s)`}, token_ttl ${tokenTtl === 0 ? 'the mount default' : `${tokenTtl} s`}, ${num(role, 'token_num_uses') === 0 ? 'login tokens with unlimited uses' : `login tokens with ${num(role, 'token_num_uses')} uses`}`,
    },
    role.bind_secret_id === false
      ? { check: 'role-trust-narrow', verdict: 'fail', detail: `AppRole role ${name}: bind_secret_id is false: its role_id alone logs in, no secret_id (no grant) needed; ${cidrs}` }
      : { check: 'role-trust-narrow', verdict: 'pass', detail: `AppRole role ${name}: a secret_id is needed to log in; ${cidrs}; ${POLICIES_NOT_SCANNED}` },
  ];
}
