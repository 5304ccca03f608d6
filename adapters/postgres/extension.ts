/**
 * How the holder of a database grant may try to stretch it at the database itself, tried with
 * what it holds and nothing else: a new connection logging in as the holder (never the admin), one
 * statement, closed. One module for both points of use, so a login from OpenBao's database engine
 * or from a user's broker, and a client certificate from any CA, are tried alike.
 *
 * A login of its own (the grant is the login, as OpenBao's database engine makes it) tries:
 * - `ALTER ROLE CURRENT_USER VALID UNTIL 'infinity'`, and a date far past the window: VALID UNTIL is
 *   the end the database itself states for a password login, and what a grant source writes beside
 *   its lease (a role with CREATEROLE may move its own);
 * - `GRANT "<grant role>" TO "<requester>"`: the task's own standing login keeps the privilege once
 *   the grant's login is dropped (ADMIN OPTION on the grant role, or CREATEROLE, allows it);
 * - `CREATE ROLE "<prefix>-keep" LOGIN PASSWORD … IN ROLE "<grant role>"`: a login of its own, which
 *   no revocation of the grant's login drops (CREATEROLE allows it).
 * A login that is the requester's own (the grant is its membership) tries the last one only: its
 * VALID UNTIL bounds the requester's standing identity, not the grant, and it is the requester.
 * Its own password, which any role may set, is not tried with a login: a dropped login takes it along.
 *
 * A client certificate (the grant is the certificate; the role it logs in as is the point's own and
 * outlives every certificate) tries `ALTER ROLE CURRENT_USER PASSWORD …`, which any role may run: a
 * certificate role with a password logs in without any certificate wherever pg_hba.conf lets it
 * fall through to a password line, and no CRL ends a password. It counts as extended only when that
 * password then opens the table. VALID UNTIL bounds passwords only, never certificates: not tried.
 *
 * Inside the window each attempt aims past its end; after the end it tries to bring the grant back.
 * `refused` is read only from the server's own answer, by its SQLSTATE, never its text (probes.ts):
 * the holder's login refused (28P01, 28000, or the TLS alerts with which a certificate is refused),
 * or the statement refused with 42501 insufficient_privilege. Anything else is `unknown`, and so is
 * a change the admin cannot read back. What an extension changed is read back from pg_roles by the
 * admin: the login's VALID UNTIL, the requester's membership, the new login. Whatever opens the
 * table after the end (a login the holder created, a password it set) is handed back to be probed
 * like the grant; it carries the scenario's prefix or dies with the point's own role, so residue
 * and the sweep see it, and teardown removes it. See docs/architecture.md ("holder-cannot-extend").
 */
import pg from 'pg';
import type { CredentialOf, ExtensionAttempt, ExtensionResult, GrantRecord, ProbeResult, ReuseHandle } from '../contract.ts';
import type { FailureReading } from '../probe-shell.ts';
import { quoteIdent } from './client.ts';
import { dropRole, fixturesOf, type PgContext } from './fixtures.ts';
import { scenarioName } from './names.ts';
import { newPassword, scramVerifier } from './passwords.ts';
import { closeClient, describePgError, pgErrorText, readFailure } from './probes.ts';

/**
 * The check under which whatever the holder made is probed after the end: the extension's own,
 * which every source handing these attempts on declares; a check of its own would need each to.
 */
const CHECK = 'holder-cannot-extend';

/** The SQLSTATE with which the server refuses a statement to the holder (probes.ts). */
const INSUFFICIENT_PRIVILEGE = '42501';

/** A far date asks for at least a day past the window, or a hundred windows for a long one. */
const FAR_SECONDS_MIN = 86_400;
const FAR_WINDOWS = 100;

const LOGINS = 'holderLogins';
const PASSWORDS = 'holderPasswords';

/** A password login and the table read with it, on a new connection (to `node` when given). */
export type PasswordRead = (login: { user: string; password: string }, node?: string) => Promise<ProbeResult>;

/** How the holder logs in, whatever it holds. */
export interface Holder {
  /** The role it logs in as. */
  user: string;
  /** "by password", "by certificate serial 1a:2b": for the details. */
  how: string;
  /** A new, unconnected client logging in as the holder; may prepare first (a CRL to keep current). */
  open(): Promise<pg.Client>;
  /** The holder's login refused: `denied` only on the server's own refusal. */
  readLoginFailure(error: unknown): FailureReading;
}

interface Attempt {
  /** Why the attempt would show nothing here (read by the admin before it runs); undefined: go on. */
  before?(): Promise<string | undefined>;
  /** The statement, run as the holder. Never a secret in it: a password goes as its verifier. */
  statement: string;
  /** What the statement changed, read back by the admin; an error here is `unknown`, never a refusal. */
  after(at: string): Promise<ExtensionResult>;
}

const now = (): string => new Date().toISOString();

/** Log in as the holder on a new connection, run the attempt's statement, and read what it did. */
async function asHolder(ctx: PgContext, holder: Holder, attempt: Attempt): Promise<ExtensionResult> {
  if (attempt.before) {
    let reason: string | undefined;
    try {
      reason = await attempt.before();
    } catch (error) {
      return { outcome: 'unknown', at: now(), detail: `what it would change could not be read first: ${pgErrorText(error)}` };
    }
    if (reason) return { outcome: 'unknown', at: now(), detail: reason };
  }
  let client: pg.Client;
  try {
    client = await holder.open();
  } catch (error) {
    return { outcome: 'unknown', at: now(), detail: `no connection as ${holder.user} could be opened: ${error instanceof Error ? error.message : String(error)}` };
  }
  // The server may end the connection after answering: an 'error' event nobody hears would bring the run down.
  client.on('error', () => undefined);
  try {
    try {
      await client.connect();
    } catch (error) {
      const reading = holder.readLoginFailure(error);
      const at = now();
      if (reading.outcome === 'denied') return { outcome: 'refused', at, detail: `the holder's login as ${holder.user} ${holder.how} is refused: ${reading.detail}` };
      return { outcome: 'unknown', at, detail: `the holder's login as ${holder.user} ${holder.how} got ${reading.detail}` };
    }
    try {
      await client.query(attempt.statement);
    } catch (error) {
      const at = now();
      const answer = describePgError(error);
      if (answer.kind === 'server' && answer.code === INSUFFICIENT_PRIVILEGE) return { outcome: 'refused', at, detail: `refused to ${holder.user}: ${answer.text}` };
      const why = answer.kind === 'server' ? `${answer.text}, which is not a refusal of the holder` : `no answer: ${answer.text}`;
      return settle(ctx, holder, attempt, at, `logged in as ${holder.user}, the statement got ${why}`);
    }
  } finally {
    await closeClient(client);
  }
  const at = now();
  try {
    return await attempt.after(at);
  } catch (error) {
    return { outcome: 'unknown', at, detail: `the database took the statement from ${holder.user}, but what it changed could not be read back: ${pgErrorText(error)}` };
  }
}

/**
 * A statement whose answer says neither yes nor no — the holder's login dropped under it as the
 * grant ended, say — is settled by what the database holds: whatever the read-back shows extended
 * counts as extended; with nothing extended and the holder's own role gone, nothing of the attempt
 * is left to outlive the grant; anything else stays unknown.
 */
async function settle(ctx: PgContext, holder: Holder, attempt: Attempt, at: string, said: string): Promise<ExtensionResult> {
  try {
    const after = await attempt.after(at);
    if (after.outcome === 'extended') return { ...after, detail: `${after.detail} (the statement itself got: ${said})` };
    const found = await ctx.client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [holder.user]);
    if (!found.rowCount) return { outcome: 'refused', at, detail: `${said}; the holder's own role ${holder.user} no longer exists and nothing the statement could have changed is left` };
  } catch (error) {
    return { outcome: 'unknown', at, detail: `${said}; what it changed could not be read back: ${pgErrorText(error)}` };
  }
  return { outcome: 'unknown', at, detail: said };
}

interface RoleRow {
  rolvaliduntil: Date | number | null;
  rolcanlogin: boolean;
  member: boolean;
}

/** A role as pg_roles states it, with its membership in the grant role; undefined when there is none. */
async function readRole(ctx: PgContext, role: string): Promise<RoleRow | undefined> {
  const found = await ctx.client.admin.query<RoleRow>(`SELECT rolvaliduntil, rolcanlogin, pg_has_role(oid, $2, 'MEMBER') AS member FROM pg_roles WHERE rolname = $1`, [
    role,
    fixturesOf(ctx).grantRole,
  ]);
  return found.rows[0];
}

/**
 * A VALID UNTIL as the end it states: null for none (NULL, or 'infinity', which node-postgres reads
 * as Infinity); undefined for what it cannot be ('-infinity': valid never, which no holder asked for).
 */
function validUntilEnd(value: Date | number | null): string | null | undefined {
  if (value === null || value === Number.POSITIVE_INFINITY) return null;
  return value instanceof Date ? value.toISOString() : undefined;
}

function describeEnd(end: string | null): string {
  return end === null ? 'no end' : end;
}

/** `ALTER ROLE CURRENT_USER VALID UNTIL <until>`, read back from pg_roles. */
function validUntilAttempt(ctx: PgContext, holder: Holder, name: string, until: () => string): ExtensionAttempt {
  return {
    name,
    attempt: () => {
      const asked = until();
      return asHolder(ctx, holder, {
        statement: `ALTER ROLE CURRENT_USER VALID UNTIL ${pg.escapeLiteral(asked)}`,
        async after(at) {
          const role = await readRole(ctx, holder.user);
          if (!role) return { outcome: 'unknown', at, detail: `the database took VALID UNTIL '${asked}' from ${holder.user}, yet pg_roles holds no such role now` };
          const end = validUntilEnd(role.rolvaliduntil);
          if (end === undefined) return { outcome: 'unknown', at, detail: `the database took VALID UNTIL '${asked}' from ${holder.user}, and now states ${String(role.rolvaliduntil)}` };
          return { outcome: 'extended', at, detail: `the database took VALID UNTIL '${asked}' from ${holder.user} itself: pg_roles now states ${describeEnd(end)} for its password`, reachesUntil: end };
        },
      });
    },
  };
}

/** `GRANT "<grant role>" TO "<requester>"`: the task's standing login keeps the privilege past the grant's login. */
function requesterMembershipAttempt(ctx: PgContext, holder: Holder): ExtensionAttempt {
  const { grantRole, requester } = fixturesOf(ctx);
  const isMember = async (): Promise<boolean> =>
    (await ctx.client.admin.query<{ member: boolean }>(`SELECT pg_has_role($1, $2, 'MEMBER') AS member`, [requester.user, grantRole])).rows[0]?.member === true;
  return {
    name: `make the requester's own login a member of the grant role (GRANT "${grantRole}" TO "${requester.user}")`,
    attempt: () =>
      asHolder(ctx, holder, {
        // Already a member, the GRANT would only add a notice: whether the holder may grant it would not show.
        before: async () => ((await isMember()) ? `${requester.user} is already a member of ${grantRole}: a GRANT by the holder would show nothing` : undefined),
        statement: `GRANT ${quoteIdent(grantRole)} TO ${quoteIdent(requester.user)}`,
        async after(at) {
          if (!(await isMember())) return { outcome: 'unknown', at, detail: `the database took the GRANT from ${holder.user}, yet ${requester.user} is not a member of ${grantRole}` };
          // A membership carries no end: only a REVOKE takes it away.
          return { outcome: 'extended', at, detail: `the database took the GRANT from ${holder.user}: pg_roles now makes the requester's own login ${requester.user} a member of ${grantRole}, with no end`, reachesUntil: null };
        },
      }),
  };
}

/** The roles the holder may have created, by name: known before the statement runs, so teardown finds whatever it made. */
function heldLogins(ctx: PgContext): string[] {
  return (ctx.state.get(LOGINS) as string[] | undefined) ?? [];
}

/** `CREATE ROLE "<prefix>-keep…" LOGIN PASSWORD … IN ROLE "<grant role>"`: a login the grant's revocation never drops. */
function newLoginAttempt(ctx: PgContext, holder: Holder, read: PasswordRead): ExtensionAttempt {
  const { grantRole } = fixturesOf(ctx);
  return {
    name: `create a login of its own in the grant role (CREATE ROLE … LOGIN IN ROLE "${grantRole}")`,
    attempt: (moment) => {
      // One name per moment: an attempt after the end must not trip over what the first one made.
      const user = scenarioName(ctx.prefix, moment === 'inside-window' ? 'keep' : 'keep-after-end');
      const password = newPassword();
      ctx.secrets.add(password);
      ctx.state.set(LOGINS, [...new Set([...heldLogins(ctx), user])]);
      return asHolder(ctx, holder, {
        statement: `CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD '${scramVerifier(password)}' IN ROLE ${quoteIdent(grantRole)}`,
        async after(at) {
          const role = await readRole(ctx, user);
          if (!role) return { outcome: 'unknown', at, detail: `the database took CREATE ROLE ${user} from ${holder.user}, yet pg_roles holds no such role` };
          const end = validUntilEnd(role.rolvaliduntil);
          if (!role.rolcanlogin || !role.member || end === undefined) {
            return { outcome: 'unknown', at, detail: `the database took CREATE ROLE ${user} from ${holder.user}, and states login ${role.rolcanlogin}, member of ${grantRole} ${role.member}, VALID UNTIL ${String(role.rolvaliduntil)}` };
          }
          const handle: ReuseHandle = {
            name: `login ${user} the holder created ${moment === 'inside-window' ? 'during the task' : 'after the end'}`,
            check: CHECK,
            probe: (node) => read({ user, password }, node),
          };
          return {
            outcome: 'extended',
            at,
            detail: `the database took CREATE ROLE from ${holder.user}: pg_roles now holds login ${user}, a member of ${grantRole}, VALID UNTIL ${describeEnd(end)}, which no revocation of ${holder.user} drops`,
            reachesUntil: end,
            minted: [handle],
          };
        },
      });
    },
  };
}

/** When the window ends, and a far date past it: what the VALID UNTIL attempt asks for. */
function farPast(windowEndsAt: number, windowSeconds: number): string {
  const ask = Math.max(FAR_SECONDS_MIN, Math.ceil(windowSeconds) * FAR_WINDOWS);
  return new Date(Math.max(windowEndsAt, Date.now()) + ask * 1000).toISOString();
}

/** The attempts for a grant held as a password login (`table-read`); `read` is the point's own password read. */
export function loginExtensions(ctx: PgContext, login: CredentialOf<'db-login'>, grant: GrantRecord, read: PasswordRead): ExtensionAttempt[] {
  const holder: Holder = {
    user: login.user,
    how: 'by password',
    open: async () => ctx.client.login(login.user, login.password, { applicationName: fixturesOf(ctx).application }),
    readLoginFailure: readFailure,
  };
  const keep = newLoginAttempt(ctx, holder, read);
  if (login.user === fixturesOf(ctx).requester.user) return [keep];
  const windowEndsAt = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
  return [
    validUntilAttempt(ctx, holder, "set its own VALID UNTIL to 'infinity'", () => 'infinity'),
    validUntilAttempt(ctx, holder, 'set its own VALID UNTIL far past the window', () => farPast(windowEndsAt, ctx.task.windowSeconds)),
    requesterMembershipAttempt(ctx, holder),
    keep,
  ];
}

/** Passwords the holder set on a role, as the point must probe them for residue. */
function heldPasswords(ctx: PgContext): { user: string; password: string }[] {
  return (ctx.state.get(PASSWORDS) as { user: string; password: string }[] | undefined) ?? [];
}

/**
 * The attempt for a grant held as a client certificate (`cert-login`): give its role a password of
 * its own, then log in with it and no certificate. `holder` logs in by the certificate.
 */
export function certificateExtensions(ctx: PgContext, holder: Holder, read: PasswordRead): ExtensionAttempt[] {
  return [
    {
      name: 'set a password on its own role, and log in with it without a certificate',
      attempt: () => {
        const password = newPassword();
        ctx.secrets.add(password);
        // Remembered before the statement: a password the server took while its answer was lost must still be looked for.
        ctx.state.set(PASSWORDS, [...heldPasswords(ctx), { user: holder.user, password }]);
        return asHolder(ctx, holder, {
          statement: `ALTER ROLE CURRENT_USER PASSWORD '${scramVerifier(password)}'`,
          async after(at) {
            const login = await read({ user: holder.user, password });
            if (login.outcome === 'denied') {
              return { outcome: 'refused', at: login.at, detail: `the database took a password from ${holder.user}, but refuses a password login with it: ${login.detail}` };
            }
            if (login.outcome === 'unknown') return { outcome: 'unknown', at: login.at, detail: `the database took a password from ${holder.user}; a password login with it got ${login.detail}` };
            const role = await readRole(ctx, holder.user);
            const end = role ? validUntilEnd(role.rolvaliduntil) : undefined;
            const handle: ReuseHandle = { name: `password the holder set on ${holder.user}`, check: CHECK, probe: (node) => read({ user: holder.user, password }, node) };
            if (end === undefined) return { outcome: 'unknown', at, detail: `a password the holder set on ${holder.user} opens the table (${login.detail}), but its VALID UNTIL could not be read back`, minted: [handle] };
            return {
              outcome: 'extended',
              at,
              detail: `the database took a password from ${holder.user}, and a login with it and no certificate reads the table (${login.detail}); pg_roles states VALID UNTIL ${describeEnd(end)}, and no CRL ends a password`,
              reachesUntil: end,
              minted: [handle],
            };
          },
        });
      },
    },
  ];
}

/**
 * What the holder's own passwords still open, found by logging in with them (residue): a password
 * is no object pg_roles lists to anyone but a superuser, so whether it works is asked of the server.
 */
export async function holderPasswordPaths(ctx: PgContext, read: PasswordRead): Promise<string[]> {
  const found: string[] = [];
  for (const { user, password } of heldPasswords(ctx)) {
    const login = await read({ user, password });
    if (login.outcome === 'allowed') found.push(`role ${user} logs in with a password its holder set, without a certificate, and reads ${fixturesOf(ctx).table}`);
    else if (login.outcome === 'unknown') throw new Error(`whether the password the holder set on ${user} still logs in could not be told: ${login.detail}`);
  }
  return found.sort();
}

/** Drop every login the holder may have created. Returns what was removed; throws once, naming every failure, after trying all. */
export async function removeHolderLogins(ctx: PgContext): Promise<string[]> {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const user of heldLogins(ctx)) {
    try {
      const found = await ctx.client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      if (!found.rowCount) continue;
      await dropRole(ctx.client, user);
      removed.push(`role ${user}`);
    } catch (error) {
      failed.push(`role ${user}: ${pgErrorText(error)}`);
    }
  }
  if (failed.length > 0) throw new Error(`removed ${removed.length > 0 ? removed.join(', ') : 'nothing'}; could not remove ${failed.join('; ')}`);
  return removed;
}
