/**
 * `ldap-dynamic-role`: OpenBao's ldap secrets engine (schema `openldap`) creates a directory
 * account for one task from a dynamic role's creation LDIF — the account, and its membership in
 * the group the point of use's ACL grants through — with a lease that ends it. At the lease's end
 * OpenBao runs the role's deletion LDIF: the account is deleted, and the directory's referential
 * integrity drops its membership. The account's bind is used, and judged, at the directory (the
 * point of use), never here: what matters is whether the directory stops accepting it, whether
 * the account is really gone, and whether a connection bound with it ends too (nothing in LDAP
 * ends a bound connection when its account is deleted; the point of use holds one open to see).
 *
 * The engine is configured with the directory the point of use names (`targetEnvironment()`:
 * LDAP_URL and the administrator's bind). It is never asked to rotate that bind's password
 * (rotate-root): every half of the run binds with it. Configuring the engine does not rotate it
 * either, which the source confirms from the engine's own configuration before going on.
 *
 * The engine writes `userPassword` as it generates it (a 64-character random string) and offers
 * no hashing in its templates: the directory's ACL must keep the attribute from being read.
 *
 * Everything it creates lives in a mount of its own (`<prefix>-ldap`): unmounting it revokes
 * every lease, running the deletion LDIF, so teardown leaves no account behind even when the
 * grant went wrong; a lease whose deletion LDIF fails is forced out of OpenBao, and its account,
 * named with the scenario's prefix, is swept by the point of use's teardown.
 *
 * Broken setups for the twins and mutants: a deletion LDIF that only removes the membership (the
 * account stays and still binds), one that names the account where it does not live (OpenBao
 * cannot revoke the lease, so nothing ends), a lease longer than the window with no cap, and a
 * broker that does not revoke at task end.
 */
import { Client } from 'ldapts';
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type CredentialOf, type Grant, type GrantSource, type ReuseHandle } from '../../contract.ts';
import { describeLdapError, lookupEntry } from '../../ldap/probes.ts';
import { GRANT_GROUP_TERM } from '../../ldap/terms.ts';
import { describeVaultError } from '../api.ts';
import type { VaultClient } from '../client.ts';
import type { VaultGrantContext } from '../extension.ts';
import { leaseLookup, leasesUnder, type LeaseInfo, lookupLease } from '../leases.ts';

/** What the role's deletion LDIF does when OpenBao ends a lease. */
const DELETIONS = ['delete-account', 'membership-only', 'fails'] as const;
type Deletion = (typeof DELETIONS)[number];

const params = z.strictObject({
  /** The lease's default TTL: the role's `default_ttl`. */
  ttlSeconds: seconds.refine((s) => s > 0, 'must be more than 0'),
  /** The role's `max_ttl`, no renewal passes it. Absent: the approval window; null (broken) sets none, so the mount's maximum applies. */
  maxTtlSeconds: seconds.nullable().optional(),
  /**
   * The role's deletion LDIF: `delete-account` (the directory's refint drops the membership);
   * `membership-only` (broken): removes the membership and leaves the account, which still binds;
   * `fails` (broken): deletes the account under a DN where it does not live, so OpenBao cannot
   * revoke the lease and the account keeps everything.
   */
  deletion: z.enum(DELETIONS).default('delete-account'),
  /** How the broker ends the grant at task end in `revoke` mode: revoke the lease, or (broken) nothing. */
  revokeAtEnd: z.enum(['lease', 'nothing']).default('lease'),
});
type LdapRoleParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<LdapRoleParams>;

const ROLE = 'task';
const MOUNT = 'mount';
const DIRECTORY = 'directory';
const LEASE = 'lease';
const ACCOUNT = 'account';

/** How long one directory operation of the source (or of the engine) may take. */
const LDAP_TIMEOUT_MS = 5000;

const mountOf = (ctx: Ctx): string => `${ctx.prefix}-ldap`;

/** The directory the point of use runs on, as its target states it (its administrator's bind included). */
interface Directory {
  url: string;
  bindDn: string;
  password: string;
  accountsDn: string;
}

function directoryOf(ctx: Ctx): Directory {
  const env = ctx.pointOfUse.targetEnvironment();
  const { LDAP_URL: url, LDAP_BIND_DN: bindDn, LDAP_BIND_PASSWORD: password, LDAP_ACCOUNTS_DN: accountsDn } = env;
  if (!url || !bindDn || !password || !accountsDn) {
    throw new Error(`the point of use ${ctx.pointOfUse.name} states no directory (LDAP_URL, LDAP_BIND_DN, LDAP_BIND_PASSWORD, LDAP_ACCOUNTS_DN) for the engine to manage accounts in`);
  }
  ctx.secrets.add(password);
  return { url, bindDn, password, accountsDn };
}

function directory(ctx: Ctx): Directory {
  const dir = ctx.state.get(DIRECTORY) as Directory | undefined;
  if (!dir) throw new Error('no directory: setup did not run');
  return dir;
}

/**
 * Names the engine gives the task's accounts: `<prefix>.svc-<random>`, the directory adapter's
 * spelling of a name the scenario made, so its teardown and `jitc cleanup` sweep them by run id.
 */
export function usernameTemplate(prefix: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(prefix)) throw new Error(`unexpected character in the scenario prefix ${prefix}`);
  return `${prefix}.svc-{{random 8}}`;
}

/** The DN the creation LDIF gives an account, for the template (`{{.Username}}`) or one username. */
export function accountDn(username: string, accountsDn: string): string {
  return `cn=${username},${accountsDn}`;
}

/**
 * One LDIF line. The value goes through OpenBao's template first and is parsed as LDIF after, so
 * it must not open a template action, and a value LDIF cannot carry as it is (RFC 2849: leading
 * space, colon or `<`, a trailing space, anything not printable ASCII) is sent base64-encoded —
 * which only a value without a template field can be.
 */
export function ldifLine(attribute: string, value: string, templated = false): string {
  if (value.includes('{{') && !templated) throw new Error(`${attribute} ${value} would be read as a template by OpenBao`);
  const safe = /^[\x21-\x39\x3b\x3d-\x7e][\x20-\x7e]*$/.test(value) && !value.endsWith(' ');
  if (safe) return `${attribute}: ${value}`;
  if (templated) throw new Error(`${attribute} ${value} cannot be written into a templated LDIF line (RFC 2849 would need it base64-encoded)`);
  return `${attribute}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

export interface RoleLdif {
  creation: string;
  deletion: string;
  rollback: string;
}

/**
 * The role's three LDIFs: create the account under the accounts OU and make it a member of the
 * grant group; delete it (as `deletion` says); and undo a creation that failed half-way.
 */
export function roleLdif(accountsDn: string, grantGroup: string, deletion: Deletion): RoleLdif {
  if (accountsDn.includes('{{')) throw new Error(`the accounts DN ${accountsDn} would be read as a template by OpenBao`);
  const account = accountDn('{{.Username}}', accountsDn);
  const dn = ldifLine('dn', account, true);
  const creation = [
    [dn, 'changetype: add', 'objectClass: applicationProcess', 'objectClass: simpleSecurityObject', ldifLine('cn', '{{.Username}}', true), ldifLine('userPassword', '{{.Password}}', true)],
    [ldifLine('dn', grantGroup), 'changetype: modify', 'add: member', ldifLine('member', account, true), '-'],
  ];
  const remove = [dn, 'changetype: delete'];
  const deletions: Record<Deletion, string[]> = {
    'delete-account': remove,
    'membership-only': [ldifLine('dn', grantGroup), 'changetype: modify', 'delete: member', ldifLine('member', account, true), '-'],
    fails: [ldifLine('dn', accountDn('{{.Username}}', `ou=nowhere,${accountsDn}`), true), 'changetype: delete'],
  };
  const text = (entries: string[][]): string => `${entries.map((lines) => lines.join('\n')).join('\n\n')}\n`;
  // The account alone: the directory's refint drops whatever membership was already written.
  return { creation: text(creation), deletion: text([deletions[deletion]]), rollback: text([remove]) };
}

/** A NEW connection to the directory (or one node of it) bound as its administrator, as the engine binds; the caller unbinds it. */
async function openAdmin(dir: Directory, node?: string): Promise<Client> {
  const client = new Client({ url: node ?? dir.url, timeout: LDAP_TIMEOUT_MS, connectTimeout: LDAP_TIMEOUT_MS });
  try {
    await client.bind(dir.bindDn, dir.password);
    return client;
  } catch (error) {
    await client.unbind().catch(() => undefined);
    throw error;
  }
}

/** Whether the directory still holds `dn`; anything but its own noSuchObject is an error, never "gone". */
async function stillHeld(dir: Directory, dn: string): Promise<boolean> {
  const client = await openAdmin(dir);
  try {
    const found = await client.search(dn, { scope: 'base', attributes: ['1.1'] });
    return found.searchEntries.length > 0;
  } catch (error) {
    const answer = describeLdapError(error);
    if (answer.kind === 'result' && answer.code === 32) return false;
    throw new Error(`could not look ${dn} up in the directory: ${answer.text}`);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * The names one engine goes by: `ldap` in OpenBao up to 2.6 and in Vault (an alias there),
 * `openldap` for the plugin as Vault first named it, which is how the embedded OpenBao (2.7, whose
 * binary no longer carries the engine) has it registered from its plugin directory.
 */
const ENGINE_TYPES = ['ldap', 'openldap'] as const;

/** Mount the engine under the first name this server knows it by, or say plainly that it has none. */
async function mountEngine(ctx: Ctx, mount: string): Promise<void> {
  const refusals: string[] = [];
  for (const type of ENGINE_TYPES) {
    try {
      await ctx.client.api.call('POST', `sys/mounts/${mount}`, { type, description: `jitc ${ctx.runId} ${ctx.scenarioId}` });
      ctx.evidence.record(`the ldap secrets engine is mounted at ${mount} (plugin ${type})`);
      return;
    } catch (error) {
      const { message } = describeVaultError(error);
      if (!/plugin not found in the catalog/i.test(message)) throw error;
      refusals.push(`${type}: ${message}`);
    }
  }
  const version = ctx.connection.facts.version ?? 'of unknown version';
  throw new Error(
    `this server (${version}) has no ldap secrets engine (${refusals.join('; ')}): OpenBao 2.7 took it out of its main binary; register the plugin as "ldap" or "openldap" in the plugin catalog, or run a server that carries it built in (OpenBao 2.6 or earlier, Vault)`,
  );
}

/**
 * The engine must hold the bind as it was given: a rotation would change the password every other
 * half of the run binds with. OpenBao states a rotation in its configuration.
 */
async function confirmBindNotRotated(ctx: Ctx, mount: string): Promise<void> {
  const config = await ctx.client.api.call<{ data: Record<string, unknown> }>('GET', `${mount}/config`);
  const rotated = config.data.last_bind_password_rotation;
  if (rotated !== undefined && rotated !== null && rotated !== '') {
    throw new Error(`OpenBao rotated the directory's bind password at ${String(rotated)} while the engine was configured; the run's other halves bind with it`);
  }
  ctx.evidence.record("the engine holds the directory's bind as given: OpenBao states no rotation of its password (rotate-root is never asked)", {
    binddn: config.data.binddn,
    url: config.data.url,
    schema: config.data.schema,
  });
}

/**
 * The directory's own word on the account, beside the lease: a membership in a static group states
 * no end, so only the lease ends the privilege. Evidence, never a verdict.
 */
async function recordDirectoryView(ctx: Ctx, bind: CredentialOf<'ldap-bind'>, lease: LeaseInfo): Promise<void> {
  const facts = await ctx.pointOfUse.inspect(bind).catch((error: unknown) => {
    ctx.evidence.record(`the directory could not say what reaches the protected entry for the account: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  });
  if (!facts) return;
  ctx.evidence.record('the directory states what makes the account reach the protected entry; the grant is judged by the lease', {
    account: bind.dn,
    leaseEndsAt: lease.expire_time,
    directoryStatesEnd: facts.expiresAt,
    directory: facts.detail,
  });
}

export const ldapDynamicRoleSource: GrantSource<LdapRoleParams, VaultClient> = {
  title: 'Directory account from the ldap secrets engine, with a lease',
  params,
  issues: ['ldap-bind'],
  needs: [GRANT_GROUP_TERM],
  checks: () => ['reuse-denied', 'credential-invalidated', 'holder-cannot-extend'],
  remediation: {
    'ttl-bounded': "Give the engine's dynamic role a default_ttl and a max_ttl no longer than the approval window",
    'reuse-denied': "Give the dynamic role a deletion_ldif that deletes the account it created (changetype: delete), and revoke the task's lease when the task ends (sys/leases/revoke)",
    'credential-invalidated':
      "Make the role's deletion_ldif delete the account itself, not only its memberships, and check that it runs: a lease whose deletion LDIF fails stays with OpenBao and its account stays in the directory",
    'no-residue': "Delete the account in the role's deletion_ldif (the directory's referential integrity then drops its memberships), and revoke the lease at task end",
    'holder-cannot-extend':
      "Give the engine's accounts no write access to the groups that grant the privilege (the directory's ACL), so an account cannot add a member value of its own that the deletion LDIF never removes",
  },

  async setup(ctx) {
    const api = ctx.client.api;
    const dir = directoryOf(ctx);
    ctx.state.set(DIRECTORY, dir);
    const grantGroup = ctx.resource.terms[GRANT_GROUP_TERM];
    if (!grantGroup) throw new Error(`the point of use ${ctx.pointOfUse.name} offers no ${GRANT_GROUP_TERM}`);
    const ldif = roleLdif(dir.accountsDn, grantGroup, ctx.params.deletion);
    const mount = mountOf(ctx);
    await mountEngine(ctx, mount);
    ctx.state.set(MOUNT, mount);
    await api.call('POST', `${mount}/config`, {
      binddn: dir.bindDn,
      bindpass: dir.password,
      url: dir.url,
      schema: 'openldap',
      userdn: dir.accountsDn,
      // Bounded, so a directory that stops answering fails the grant rather than hanging it.
      connection_timeout: LDAP_TIMEOUT_MS / 1000,
      request_timeout: (2 * LDAP_TIMEOUT_MS) / 1000,
    });
    await confirmBindNotRotated(ctx, mount);
    const p = ctx.params;
    const maxTtl = p.maxTtlSeconds === undefined ? ctx.task.windowSeconds : p.maxTtlSeconds;
    await api.call('POST', `${mount}/role/${ROLE}`, {
      creation_ldif: ldif.creation,
      deletion_ldif: ldif.deletion,
      rollback_ldif: ldif.rollback,
      username_template: usernameTemplate(ctx.prefix),
      default_ttl: `${p.ttlSeconds}s`,
      ...(maxTtl === null ? {} : { max_ttl: `${maxTtl}s` }),
    });
    ctx.evidence.record('ldap engine mounted, configured with the directory of the point of use and given a dynamic role for the task', {
      mount,
      role: ROLE,
      defaultTtlSeconds: p.ttlSeconds,
      maxTtlSeconds: maxTtl,
      usernameTemplate: usernameTemplate(ctx.prefix),
      creationLdif: ldif.creation,
      deletionLdif: ldif.deletion,
    });
    if (p.deletion === 'membership-only') ctx.evidence.record('broken setup: the deletion LDIF only removes the membership; the account stays and still binds');
    if (p.deletion === 'fails') ctx.evidence.record('broken setup: the deletion LDIF names the account where it does not live, so OpenBao cannot revoke the lease');
    if (maxTtl === null) ctx.evidence.record("broken setup: the role sets no max_ttl, so the mount's maximum lease applies");
  },

  // The lease while OpenBao holds it (under the scenario's own mount, never by scanning every
  // lease), and the account it created while the directory holds it (looked up by its DN).
  async entitlements(ctx) {
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount === undefined) return [];
    const found: string[] = [];
    found.push(...(await leasesUnder(ctx.client.api, mount, ROLE)));
    const account = ctx.state.get(ACCOUNT) as string | undefined;
    if (account !== undefined && (await stillHeld(directory(ctx), account))) found.push(`entry ${account}`);
    return found;
  },

  async request(ctx) {
    const mount = mountOf(ctx);
    const dir = directory(ctx);
    const answer = await ctx.client.api.send<{
      lease_id: string;
      lease_duration: number;
      renewable: boolean;
      data: { username: string; password: string; distinguished_names: string[] };
    }>('GET', `${mount}/creds/${ROLE}`);
    const bind = bornCredential(ctx.secrets, { type: 'ldap-bind', dn: accountDn(answer.data.username, dir.accountsDn), password: answer.data.password });
    ctx.state.set(LEASE, answer.lease_id);
    ctx.state.set(ACCOUNT, bind.dn);
    const created = answer.data.distinguished_names ?? [];
    if (!created.some((dn) => dn.toLowerCase() === bind.dn.toLowerCase())) {
      throw new Error(`OpenBao says it wrote ${created.join('; ') || 'nothing'}, not the account ${bind.dn} the role's creation LDIF names`);
    }
    const lease = await lookupLease(ctx.client.api, answer.lease_id);
    ctx.evidence.record('OpenBao created the account for the task', { account: bind.dn, lease: answer.lease_id, written: created, leaseEndsAt: lease.expire_time });
    const handles: ReuseHandle[] = [
      { name: 'new bind as the account at the point of use', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(bind, node) },
      // OpenBao's own record of the grant. The scenario's nodes are the directory's, not OpenBao's.
      { name: 'lease looked up', check: 'credential-invalidated', probe: () => leaseLookup(ctx.client.api, answer.lease_id)() },
      // The account itself, looked up with the engine's bind: a deletion that only took the
      // membership leaves an account the point of use's read no longer shows.
      {
        name: "account entry looked up in the directory with the engine's bind",
        check: 'credential-invalidated',
        probe: (node) => lookupEntry(() => openAdmin(dir, node), bind.dn),
      },
    ];
    const grantGroup = ctx.resource.terms[GRANT_GROUP_TERM] ?? '?';
    const grant: Grant = {
      credentialId: `lease ${answer.lease_id} (account ${bind.dn})`,
      issuedAt: lease.issue_time,
      expiresAt: lease.expire_time,
      ttlRequestedSeconds: ctx.params.ttlSeconds,
      ttlGrantedSeconds: lease.expire_time === null ? null : answer.lease_duration,
      scopeGranted: [`${ctx.resource.description} (member of ${grantGroup})`],
      attributes: { account: bind.dn, renewable: answer.renewable, deletion: ctx.params.deletion, revokeAtEnd: ctx.params.revokeAtEnd },
      handles,
      extensions: [],
      credential: bind,
    };
    // The holder holds the account's bind and no Vault token, so it cannot renew the lease; at the
    // directory it tries what any bind may (a member value of its own in the grant group).
    grant.extensions = ctx.pointOfUse.extensions(bind, grant);
    await recordDirectoryView(ctx, bind, lease);
    return grant;
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const lease = ctx.state.get(LEASE) as string;
    if (ctx.params.revokeAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
      return;
    }
    try {
      // Synchronous: OpenBao runs the deletion LDIF before it answers.
      await ctx.client.api.call('PUT', 'sys/leases/revoke', { lease_id: lease });
    } catch (error) {
      // What the directory does is judged by the reuse poll; OpenBao's refusal is evidence of why.
      ctx.evidence.record(`OpenBao could not revoke the lease: ${describeVaultError(error).message}`, { lease });
    }
  },

  async teardown(ctx) {
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount === undefined) return [];
    const api = ctx.client.api;
    const removed: string[] = [];
    try {
      // Unmounting revokes every lease of the mount, running the deletion LDIF: no account stays.
      await api.call('DELETE', `sys/mounts/${mount}`);
    } catch (error) {
      // A lease whose deletion LDIF fails keeps the mount: force the leases out of OpenBao, then
      // unmount. Their accounts carry the prefix; the point of use's teardown sweeps them.
      ctx.evidence.record(`OpenBao could not unmount ${mount} (${describeVaultError(error).message}): its leases are revoked by force`);
      await api.call('PUT', `sys/leases/revoke-force/${mount}`);
      removed.push(`leases of ${mount} (revoked by force: OpenBao could not run their deletion LDIF)`);
      await api.call('DELETE', `sys/mounts/${mount}`);
    }
    removed.push(`ldap mount ${mount}`);
    return removed;
  },
};
