/**
 * `database`: OpenBao's database secrets engine hands the task a login of its own on a database —
 * a role created for the task from the engine's creation statements, with a lease that ends it.
 * The login is used, and judged, at the database (the point of use), never here: what matters is
 * whether the database stops accepting it, and whether every session opened with it ends too.
 *
 * The engine ends a login by running the role's revocation statements when the lease ends (expiry,
 * `sys/leases/revoke`, or the revocation of the Vault token that read it). OpenBao's default
 * statements for PostgreSQL revoke the grants and drop the role, but leave its open sessions
 * running; `revocation: end-sessions` refuses new logins and terminates the role's backends first.
 *
 * Everything it creates lives in a mount of its own (`<prefix>-db`): unmounting it revokes every
 * lease, so teardown cannot leave a login behind even when the grant went wrong.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type CredentialOf, type ExtensionAttempt, type ExtensionResult, type Grant, type GrantSource, type ReuseHandle } from '../../contract.ts';
import { lookupAccessor, type VaultClient } from '../client.ts';
import { extensionSeconds, type VaultGrantContext } from '../extension.ts';
import { GONE, readExtensionRefusal, readRefusal } from '../probes.ts';
import { leaseLookup, leasesUnder, type LeaseInfo, lookupLease } from '../leases.ts';
import { revokeTracked, tokenMeta, trackAccessor, type VaultToken } from '../tokens.ts';

/** The point of use's term this source grants by: the role whose membership carries the privilege. */
const GRANT_ROLE = 'postgres.grant-role';

/** Revocation statements that end the role's sessions before dropping it: no new login, no open backend. */
const END_SESSIONS = [
  'ALTER ROLE "{{name}}" NOLOGIN;',
  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';",
  'DROP ROLE IF EXISTS "{{name}}";',
];

const params = z.strictObject({
  /** The lease's default TTL: the role's `default_ttl`. */
  ttlSeconds: seconds,
  /** The role's `max_ttl`, no renewal passes it. Absent: the approval window; null (broken) sets none, so the mount's max TTL applies. */
  maxTtlSeconds: seconds.nullable().optional(),
  /**
   * The role's revocation statements: OpenBao's `default` for PostgreSQL (revoke grants, drop the
   * role, sessions keep running), or `end-sessions` ({@link END_SESSIONS}).
   */
  revocation: z.enum(['default', 'end-sessions']).default('end-sessions'),
  /**
   * Whose lease the login is: the task's own Vault token read the credentials (its revocation
   * takes the lease with it), or the broker's (the lease outlives any task token).
   */
  leaseHolder: z.enum(['task-token', 'broker']).default('broker'),
  /** How the broker ends the grant at task end: revoke the lease, revoke the task's token (cascade), or (broken) nothing. */
  revokeAtEnd: z.enum(['lease', 'task-token', 'nothing']).default('lease'),
  /**
   * Broken setup: what the creation statements give the login beyond its membership: CREATEROLE
   * (it may move its own VALID UNTIL, create logins and grant any role) or ADMIN OPTION on the grant
   * role (it may make any login a member).
   */
  loginRights: z.enum(['none', 'createrole', 'admin-option']).default('none'),
});
type DatabaseParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<DatabaseParams>;

const ROLE = 'task';
const CONNECTION = 'target';
const MOUNT = 'mount';
const TASK_TOKEN = 'taskToken';
const LEASE = 'lease';
const POLICY = 'policy';

/** The task holds a Vault token of its own when it reads its login with it, or when the broker ends the task by revoking it. */
const taskHoldsToken = (p: DatabaseParams): boolean => p.leaseHolder === 'task-token' || p.revokeAtEnd === 'task-token';

const mountOf = (ctx: Ctx): string => `${ctx.prefix}-db`;

/**
 * Names the engine gives the task's logins: the scenario's prefix, so a sweep finds them by run id
 * (PostgreSQL names stop at 63 bytes, the random part is kept).
 */
function usernameTemplate(ctx: Ctx): string {
  return `${ctx.prefix.slice(0, 50)}-{{random 8}}`;
}

/** The database the point of use runs on, as its target states it (its admin login included). */
function databaseTarget(ctx: Ctx): { url: string; username: string; password: string } {
  const env = ctx.pointOfUse.targetEnvironment();
  const { PGHOST: host, PGPORT: port, PGDATABASE: database, PGUSER: username, PGPASSWORD: password } = env;
  if (!host || !port || !database || !username || !password) {
    throw new Error(`the point of use ${ctx.pointOfUse.name} states no PostgreSQL connection (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD) for the engine to manage logins with`);
  }
  ctx.secrets.add(password);
  const sslmode = env.PGSSLMODE ?? 'disable';
  return { url: `postgresql://{{username}}:{{password}}@${host}:${port}/${encodeURIComponent(database)}?sslmode=${sslmode}`, username, password };
}

function creationStatements(grantRole: string, rights: DatabaseParams['loginRights']): string[] {
  const quoted = `"${grantRole.replaceAll('"', '""')}"`;
  const createRole = rights === 'createrole' ? ' CREATEROLE' : '';
  const adminOption = rights === 'admin-option' ? ' WITH ADMIN OPTION' : '';
  return [`CREATE ROLE "{{name}}" WITH LOGIN${createRole} PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, `GRANT ${quoted} TO "{{name}}"${adminOption};`];
}

function taskToken(ctx: Ctx): VaultToken | undefined {
  return ctx.state.get(TASK_TOKEN) as VaultToken | undefined;
}

/** The task's own policy: read its credentials and renew its own lease, nothing else. */
async function createTaskPolicy(ctx: Ctx): Promise<void> {
  const policy = `${ctx.prefix}-db-task`;
  const hcl = `path "${mountOf(ctx)}/creds/${ROLE}" {\n  capabilities = ["read"]\n}\npath "sys/leases/renew" {\n  capabilities = ["update"]\n}\n`;
  await ctx.client.api.call('PUT', `sys/policies/acl/${policy}`, { policy: hcl });
  ctx.state.set(POLICY, policy);
}

/** The task's own Vault token, made at the grant (its TTL is the window, counted from the request). */
async function createTaskToken(ctx: Ctx): Promise<VaultToken> {
  const window = ctx.task.windowSeconds;
  const maxTtl = ctx.params.maxTtlSeconds === undefined ? window : ctx.params.maxTtlSeconds;
  const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', {
    policies: [ctx.state.get(POLICY) as string],
    ttl: `${window}s`,
    renewable: true,
    // Capped like the role: with no cap on the role (broken), the broker caps the token no better.
    ...(maxTtl === null ? {} : { explicit_max_ttl: `${maxTtl}s` }),
    display_name: ctx.prefix,
    meta: { ...tokenMeta(ctx), jitc_task: ctx.task.id, jitc_approver: ctx.task.approver },
  });
  const token = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, token.accessor);
  ctx.state.set(TASK_TOKEN, token);
  return token;
}

/**
 * The holder stretches its login with its own task token: renew the token, then the lease, each
 * asking far past the window. Vault revokes a lease with the token that read it, so the login
 * reaches no further than the earlier of the two ends Vault states after.
 */
function leaseRenewal(ctx: Ctx, leaseId: string, held: VaultToken, grant: Grant): ExtensionAttempt {
  const ask = extensionSeconds(ctx.task.windowSeconds);
  return {
    name: `renew its token and its lease by ${ask} s with the task token`,
    async attempt(moment): Promise<ExtensionResult> {
      const said: string[] = [];
      try {
        await ctx.client.api.send('POST', 'auth/token/renew-self', { body: { increment: `${ask}s` }, token: held.token, fresh: true });
        said.push('Vault renewed the task token');
      } catch (error) {
        said.push(`the token's renewal: ${readExtensionRefusal(error).detail}`);
      }
      try {
        await ctx.client.api.send('PUT', 'sys/leases/renew', { body: { lease_id: leaseId, increment: ask }, token: held.token, fresh: true });
      } catch (error) {
        const reading = readExtensionRefusal(error);
        // After the end a lease that is gone cannot be renewed: Vault's own "invalid lease" is a refusal.
        const gone = readRefusal(error, GONE.lease);
        const detail = `${said.join('; ')}; the lease's renewal: ${reading.denied ? reading.detail : gone.detail}`;
        return { outcome: reading.denied || gone.denied ? 'refused' : 'unknown', at: new Date().toISOString(), detail };
      }
      const at = new Date().toISOString();
      let until: string | null;
      try {
        const [lease, token] = await Promise.all([lookupLease(ctx.client.api, leaseId), lookupAccessor(ctx.client.api, held.accessor)]);
        const ends = [lease.expire_time, token.expire_time].filter((t): t is string => t !== null);
        until = ends.length === 0 ? null : new Date(Math.min(...ends.map((t) => Date.parse(t)))).toISOString();
        said.push(`Vault renewed the lease (asked ${ask} s): the lease ends ${lease.expire_time ?? 'never'}, the token that holds it ${token.expire_time ?? 'never'}`);
      } catch (error) {
        return { outcome: 'unknown', at, detail: `${said.join('; ')}; Vault renewed the lease, but how far it now reaches could not be read: ${readRefusal(error).detail}` };
      }
      if (moment === 'inside-window') grant.expiresAt = until;
      return { outcome: 'extended', at, detail: said.join('; '), reachesUntil: until };
    },
  };
}

export const databaseSource: GrantSource<DatabaseParams, VaultClient> = {
  title: 'Database login from the database secrets engine, with a lease',
  params,
  issues: ['db-login'],
  needs: [GRANT_ROLE],
  // The point of use's own attempts are tried with every login, the lease's renewal where the task holds it.
  checks: () => ['reuse-denied', 'credential-invalidated', 'holder-cannot-extend'],
  remediation: {
    'ttl-bounded': "Give the engine's role a default_ttl and a max_ttl no longer than the approval window",
    'reuse-denied': "Revoke the task's lease when the task ends (sys/leases/revoke), and give the role revocation statements that drop the login",
    'credential-invalidated': 'Revoke the lease at task end rather than leaving it to live out its TTL',
    'session-ended-with-task':
      "Give the role revocation statements that end the login's sessions before dropping it: ALTER ROLE \"{{name}}\" NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'; DROP ROLE IF EXISTS \"{{name}}\";",
    'holder-cannot-extend': "Set the role's max_ttl to the approval window, so no lease renewal outlives it",
    'no-residue': "Revoke the task's lease, or the task's token that holds it, when the task ends",
  },

  async setup(ctx) {
    const api = ctx.client.api;
    const mount = mountOf(ctx);
    const target = databaseTarget(ctx);
    await api.call('POST', `sys/mounts/${mount}`, { type: 'database', description: `jitc ${ctx.runId} ${ctx.scenarioId}` });
    ctx.state.set(MOUNT, mount);
    await api.call('POST', `${mount}/config/${CONNECTION}`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: target.url,
      username: target.username,
      password: target.password,
      allowed_roles: [ROLE],
      username_template: usernameTemplate(ctx),
      verify_connection: true,
    });
    const p = ctx.params;
    const maxTtl = p.maxTtlSeconds === undefined ? ctx.task.windowSeconds : p.maxTtlSeconds;
    await api.call('POST', `${mount}/roles/${ROLE}`, {
      db_name: CONNECTION,
      creation_statements: creationStatements(ctx.resource.terms[GRANT_ROLE] ?? '', p.loginRights),
      ...(p.revocation === 'end-sessions' ? { revocation_statements: END_SESSIONS } : {}),
      default_ttl: p.ttlSeconds,
      ...(maxTtl === null ? {} : { max_ttl: maxTtl }),
    });
    ctx.evidence.record('database engine mounted, connected to the point of use and given a role for the task', {
      mount,
      role: ROLE,
      defaultTtlSeconds: p.ttlSeconds,
      maxTtlSeconds: maxTtl,
      revocationStatements: p.revocation === 'end-sessions' ? END_SESSIONS : "OpenBao's defaults (revoke the grants, drop the role)",
    });
    if (p.loginRights !== 'none') ctx.evidence.record(`broken setup: the creation statements give the login ${p.loginRights === 'createrole' ? 'CREATEROLE' : 'ADMIN OPTION on the grant role'}`);
    if (p.revocation === 'default') ctx.evidence.record("the role keeps OpenBao's default revocation statements: they do not end the login's open sessions");
    if (taskHoldsToken(p)) await createTaskPolicy(ctx);
  },

  // The lease, while Vault still holds it: listed under the scenario's own mount, never by scanning every lease.
  async entitlements(ctx) {
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount === undefined) return [];
    return leasesUnder(ctx.client.api, mount, ROLE);
  },

  async request(ctx) {
    const mount = mountOf(ctx);
    const token = taskHoldsToken(ctx.params) ? await createTaskToken(ctx) : undefined;
    const held = ctx.params.leaseHolder === 'task-token' ? token : undefined;
    const answer = await ctx.client.api.send<{ lease_id: string; lease_duration: number; renewable: boolean; data: { username: string; password: string } }>('GET', `${mount}/creds/${ROLE}`, {
      ...(held ? { token: held.token, fresh: true } : {}),
    });
    const login = bornCredential(ctx.secrets, { type: 'db-login', user: answer.data.username, password: answer.data.password });
    ctx.state.set(LEASE, answer.lease_id);
    const lease = await lookupLease(ctx.client.api, answer.lease_id);
    const handles: ReuseHandle[] = [
      { name: 'database login', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(login, node) },
      { name: 'lease looked up', check: 'credential-invalidated', probe: leaseLookup(ctx.client.api, answer.lease_id) },
    ];
    const grant: Grant = {
      credentialId: `lease ${answer.lease_id} (login ${login.user})`,
      issuedAt: lease.issue_time,
      expiresAt: lease.expire_time,
      ttlRequestedSeconds: ctx.params.ttlSeconds,
      ttlGrantedSeconds: lease.expire_time === null ? null : answer.lease_duration,
      scopeGranted: [`member of ${ctx.resource.terms[GRANT_ROLE] ?? '?'}`],
      attributes: { user: login.user, renewable: answer.renewable, revocation: ctx.params.revocation, leaseHolder: ctx.params.leaseHolder },
      handles,
      extensions: [],
      credential: login,
    };
    // The holder stretches its login at the database too (its own VALID UNTIL, a login of its own), as the point of use tries it.
    grant.extensions = [...(held ? [leaseRenewal(ctx, answer.lease_id, held, grant)] : []), ...ctx.pointOfUse.extensions(login, grant)];
    await recordValidUntil(ctx, login, lease);
    return grant;
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const lease = ctx.state.get(LEASE) as string;
    if (ctx.params.revokeAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
      return;
    }
    if (ctx.params.revokeAtEnd === 'task-token') {
      const held = taskToken(ctx);
      if (!held) throw new Error('no task token to revoke');
      // Revoking the token revokes every lease it read: the cascade under test.
      await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: held.accessor });
      return;
    }
    await ctx.client.api.call('PUT', 'sys/leases/revoke', { lease_id: lease });
  },

  async teardown(ctx) {
    const removed = await revokeTracked(ctx);
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount !== undefined) {
      // Unmounting revokes every lease of the mount, running the revocation statements: no login stays.
      await ctx.client.api.call('DELETE', `sys/mounts/${mount}`);
      removed.push(`database mount ${mount}`);
    }
    const policy = ctx.state.get(POLICY) as string | undefined;
    if (policy !== undefined) {
      await ctx.client.api.call('DELETE', `sys/policies/acl/${policy}`);
      removed.push(`policy ${policy}`);
    }
    return removed;
  },
};

/**
 * The engine writes the lease's end into the login as VALID UNTIL, a few seconds later than the
 * lease itself: the grant is judged by the lease, and the database's own statement recorded beside it.
 */
async function recordValidUntil(ctx: Ctx, login: CredentialOf<'db-login'>, lease: LeaseInfo): Promise<void> {
  const facts = await ctx.pointOfUse.inspect(login).catch((error: unknown) => {
    ctx.evidence.record(`the database could not say when the login ends: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  });
  if (!facts) return;
  const differenceMs = facts.expiresAt === null || lease.expire_time === null ? null : Date.parse(facts.expiresAt) - Date.parse(lease.expire_time);
  ctx.evidence.record('the database states when the login ends (VALID UNTIL); the grant is judged by the lease', {
    user: login.user,
    leaseEndsAt: lease.expire_time,
    validUntil: facts.expiresAt,
    validUntilAfterLeaseMs: differenceMs,
  });
}
