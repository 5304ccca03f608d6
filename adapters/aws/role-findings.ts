/**
 * Judging an IAM role the organisation configured, by its own settings, before any grant. Pure:
 * the role is read from the target by the grant source (grants/assume-role.ts).
 *
 * `role-within-window` — the role's MaxSessionDuration is the longest any AssumeRole may ask: it
 * must not pass the approval window (1 s rounding), whatever DurationSeconds one grant asked. AWS
 * allows no less than 3600 s, so a window shorter than an hour fails against any role on AWS: a
 * session of it may always be asked for an hour.
 *
 * `role-trust-narrow` — who the trust policy lets assume the role besides the broker. Every Allow
 * statement whose actions reach sts:AssumeRole* is read:
 * - `"*"` (or `{"AWS": "*"}`), and NotPrincipal (everyone but a list): fail;
 * - an account (`arn:…:iam::<account>:root`, or the bare account id), this one or another: fail —
 *   every identity that account's own policies allow may assume the role;
 * - a service or a federated provider (`Service`, `Federated`): fail — whatever that service runs,
 *   or whoever that provider vouches for, reaches the role without a grant;
 * - named users, roles and role sessions: pass, listed in the detail.
 * Conditions are named in the detail and not evaluated: a condition may narrow a wide trust, which
 * the reader must then check.
 */
import type { Finding } from '../contract.ts';
import type { PolicyDocument, Statement } from './policies.ts';

const ROUNDING_SECONDS = 1;

export function judgeSessionDuration(role: string, maxSessionDuration: number | undefined, windowSeconds: number): Finding {
  if (maxSessionDuration === undefined) return { check: 'role-within-window', verdict: 'inconclusive', detail: `role ${role}: IAM stated no MaxSessionDuration` };
  const within = maxSessionDuration <= windowSeconds + ROUNDING_SECONDS;
  return {
    check: 'role-within-window',
    verdict: within ? 'pass' : 'fail',
    detail: `role ${role}: MaxSessionDuration ${maxSessionDuration} s ${within ? 'is within' : 'lets a session outlive'} the approval window of ${windowSeconds} s${within ? '' : ': any AssumeRole may ask for that long'}`,
  };
}

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Does a statement's action list reach sts:AssumeRole (or a wildcard covering it)? */
function assumes(statement: Statement): boolean {
  if (statement.NotAction !== undefined) return true;
  return asList(statement.Action).some((a) => /^(\*|sts:\*|sts:AssumeRole.*)$/i.test(a));
}

/** One trusted principal, and whether it is a named identity. */
export interface TrustedPrincipal {
  principal: string;
  named: boolean;
  /** Why it is not (every identity of an account, any principal…). */
  why?: string;
}

const ACCOUNT = /^(?:arn:[^:]+:iam::(\d{12}):root|(\d{12}))$/;
const NAMED = /^arn:[^:]+:(?:iam::\d{12}:(?:user|role)\/.+|sts::\d{12}:assumed-role\/.+)$/;

export function classifyPrincipal(kind: string, value: string): TrustedPrincipal {
  if (value === '*') return { principal: kind === 'AWS' ? '*' : `${kind}: *`, named: false, why: 'any principal' };
  if (kind === 'AWS') {
    const account = ACCOUNT.exec(value);
    if (account) return { principal: value, named: false, why: `the whole account ${account[1] ?? account[2]}: every identity its own policies allow` };
    if (NAMED.test(value)) return { principal: value, named: true };
    return { principal: value, named: false, why: 'not a named user, role or role session' };
  }
  if (kind === 'Service') return { principal: `Service: ${value}`, named: false, why: `whatever ${value} runs with the role` };
  if (kind === 'Federated') return { principal: `Federated: ${value}`, named: false, why: `whoever ${value} vouches for` };
  return { principal: `${kind}: ${value}`, named: false, why: 'not a named identity' };
}

/** Every principal the trust policy lets assume the role, classified. */
export function trustedPrincipals(trust: PolicyDocument): { principals: TrustedPrincipal[]; conditions: string[] } {
  const principals: TrustedPrincipal[] = [];
  const conditions: string[] = [];
  for (const s of trust.Statement.filter((st) => st.Effect === 'Allow' && assumes(st))) {
    const raw = s as Statement & { NotPrincipal?: unknown };
    if (raw.NotPrincipal !== undefined) principals.push({ principal: `NotPrincipal ${JSON.stringify(raw.NotPrincipal)}`, named: false, why: 'everyone but a list' });
    const p = s.Principal;
    if (typeof p === 'string') principals.push(classifyPrincipal('AWS', p));
    else if (p) for (const [kind, values] of Object.entries(p)) for (const value of asList(values)) principals.push(classifyPrincipal(kind, value));
    if (s.Condition) conditions.push(...Object.entries(s.Condition).flatMap(([op, keys]) => Object.keys(keys).map((key) => `${op} ${key}`)));
  }
  return { principals, conditions };
}

export function judgeTrust(role: string, trust: PolicyDocument): Finding {
  const { principals, conditions } = trustedPrincipals(trust);
  const wide = principals.filter((p) => !p.named);
  const named = principals.filter((p) => p.named).map((p) => p.principal);
  const conditionNote = conditions.length > 0 ? `; conditions ${[...new Set(conditions)].join(', ')} (not evaluated: check they narrow it)` : '';
  if (wide.length > 0) {
    return {
      check: 'role-trust-narrow',
      verdict: 'fail',
      detail: `role ${role} trusts ${wide.map((p) => `${p.principal} (${p.why})`).join(', ')}${named.length > 0 ? `, beside ${named.join(', ')}` : ''}${conditionNote}`,
    };
  }
  if (named.length === 0) return { check: 'role-trust-narrow', verdict: 'pass', detail: `role ${role}: its trust policy lets nobody assume it${conditionNote}` };
  return { check: 'role-trust-narrow', verdict: 'pass', detail: `role ${role} trusts only named principals: ${named.join(', ')}${conditionNote}` };
}
