/**
 * `jitc discover` on a Vault/OpenBao: reads the token roles and the AppRole roles of every AppRole
 * mount, with the max TTLs of their auth mounts, and proposes a scenario per role plus static
 * findings. Only reads (LIST and GET): nothing on the target changes.
 *
 * The static findings are those an existing role is judged by when a scenario uses it
 * (role-findings.ts: `role-within-window`, `role-trust-narrow`), against `policy.maxWindowSeconds`;
 * one that cannot be judged (a mount whose max TTL cannot be read) is a note, never a pass.
 *
 * The secret a scenario reads is found in the role's policies: the first path of a KV v2 mount
 * with the read capability and no glob, policy by policy in the role's order. None: the scenario
 * says `CHANGE-ME` and a note says why.
 */
import pLimit from 'p-limit';
import { CHANGE_ME, runPrefix, type Discovery, type DiscoveryPolicy, type Finding, type StaticFinding } from '../contract.ts';
import { describeVaultError } from './api.ts';
import type { VaultClient } from './client.ts';
import { mountMaxTtl } from './existing.ts';
import { judgeAppRole, judgeTokenRole, tokenReach, type RoleSettings } from './role-findings.ts';

/** The value of a field discovery could not fill: the scenario file does not load until it is set. */
/** Reads in flight at once: hundreds of roles stay fast without flooding the target. */
const READS_AT_ONCE = 8;

/** One `path` block of a policy: the path and its capabilities. */
export interface PolicyPath {
  path: string;
  capabilities: string[];
}

/** HCL without its comments (`#`, `//`, `/* … *\/`); quoted strings are kept whole. */
function withoutComments(hcl: string): string {
  let out = '';
  for (let i = 0; i < hcl.length; i++) {
    const c = hcl[i]!;
    if (c === '"') {
      const end = closingQuote(hcl, i);
      out += hcl.slice(i, end + 1);
      i = end;
    } else if (c === '#' || (c === '/' && hcl[i + 1] === '/')) {
      while (i < hcl.length && hcl[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && hcl[i + 1] === '*') {
      const end = hcl.indexOf('*/', i + 2);
      i = end < 0 ? hcl.length : end + 1;
      out += ' ';
    } else out += c;
  }
  return out;
}

function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

/** The text from `open` (a `{`) to its matching `}`, strings skipped. */
function block(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = closingQuote(text, i);
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Every `path` block of a policy, in its order: HCL, or the JSON form Vault also accepts. */
export function policyPaths(text: string): PolicyPath[] {
  if (text.trimStart().startsWith('{')) {
    try {
      const json = JSON.parse(text) as { path?: Record<string, { capabilities?: unknown }> };
      return Object.entries(json.path ?? {}).map(([path, rule]) => ({
        path,
        capabilities: Array.isArray(rule.capabilities) ? rule.capabilities.filter((c): c is string => typeof c === 'string') : [],
      }));
    } catch {
      return [];
    }
  }
  const hcl = withoutComments(text);
  const paths: PolicyPath[] = [];
  for (const m of hcl.matchAll(/(?:^|[\s;}])path\s+"((?:\\.|[^"\\])*)"\s*=?\s*\{/g)) {
    const body = block(hcl, m.index + m[0].length - 1);
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '';
    paths.push({ path: m[1]!, capabilities: [...caps.matchAll(/"([^"]+)"/g)].map((c) => c[1]!) });
  }
  return paths;
}

/**
 * The first path in `paths` that reads one KV v2 secret: under a KV v2 mount's `data/`, with the
 * read capability and no deny, and no glob (`*`, `+`) that would leave the secret unnamed.
 */
export function readableKvPath(paths: readonly PolicyPath[], kvV2Mounts: readonly string[]): string | undefined {
  for (const { path, capabilities } of paths) {
    if (/[*+]/.test(path) || !capabilities.includes('read') || capabilities.includes('deny')) continue;
    const mount = kvV2Mounts.filter((m) => path.startsWith(m)).sort((a, b) => b.length - a.length)[0];
    if (mount !== undefined && /^data\/[^/](.*[^/])?$/.test(path.slice(mount.length))) return path;
  }
  return undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

/** A LIST that answers 404 has nothing under it: Vault's way of saying empty. */
async function list(client: VaultClient, path: string): Promise<string[]> {
  try {
    const answer = await client.api.call<{ data: { keys?: unknown } }>('LIST', path);
    return strings(answer.data.keys);
  } catch (error) {
    if (describeVaultError(error).status === 404) return [];
    throw error;
  }
}

/** What discovery reads once per target: mounts, their max TTLs, and each policy (read once, shared by roles). */
class TargetReadings {
  readonly #limit = pLimit(READS_AT_ONCE);
  readonly #policies = new Map<string, Promise<PolicyPath[]>>();

  constructor(
    readonly client: VaultClient,
    readonly kvV2Mounts: string[],
  ) {}

  read<T>(action: () => Promise<T>): Promise<T> {
    return this.#limit(action);
  }

  /** The path blocks of an ACL policy; a policy that does not exist reads nothing. */
  policy(name: string): Promise<PolicyPath[]> {
    let paths = this.#policies.get(name);
    if (!paths) {
      paths = this.read(async () => {
        try {
          const answer = await this.client.api.call<{ data: { policy?: unknown } }>('GET', `sys/policies/acl/${encodeURIComponent(name)}`);
          return typeof answer.data.policy === 'string' ? policyPaths(answer.data.policy) : [];
        } catch (error) {
          if (describeVaultError(error).status === 404) return [];
          throw error;
        }
      });
      this.#policies.set(name, paths);
    }
    return paths;
  }

  /** The secret the role's policies read (see the header), or undefined. */
  async secretPath(policies: readonly string[]): Promise<string | undefined> {
    for (const name of policies.filter((p) => p !== 'default' && p !== 'root')) {
      const found = readableKvPath(await this.policy(name), this.kvV2Mounts);
      if (found) return found;
    }
    return undefined;
  }
}

/** KV v2 mounts of the target, as `secret/`. */
async function kvV2Mounts(client: VaultClient): Promise<string[]> {
  const answer = await client.api.call<{ data?: Record<string, { type?: string; options?: { version?: string } | null }> }>('GET', 'sys/mounts');
  return Object.entries(answer.data ?? {})
    .filter(([, m]) => m.type === 'kv' && m.options?.version === '2')
    .map(([path]) => path);
}

interface AuthMount {
  /** `approle`, without the trailing slash. */
  path: string;
  type: string;
  /** The mount's max lease TTL as tuned (falling back to the system default), seconds; null when unreadable. */
  maxTtl: number | null;
}

async function authMounts(client: VaultClient): Promise<AuthMount[]> {
  const answer = await client.api.call<{ data?: Record<string, { type?: string }> }>('GET', 'sys/auth');
  const mounts = Object.entries(answer.data ?? {}).filter(([, m]) => m.type === 'token' || m.type === 'approle');
  return Promise.all(
    mounts.map(async ([path, m]) => {
      const name = path.replace(/\/$/, '');
      return { path: name, type: m.type ?? '', maxTtl: await mountMaxTtl(client.api, name) };
    }),
  );
}

/** One role as a scenario proposes it. */
interface RoleCase {
  /** Raw id from the role's name: `token-role-<name>`, `approle-<mount>-<name>`. */
  id: string;
  /** How the role is named for the reader: `token role ci`. */
  object: string;
  grant: Record<string, unknown>;
  /** How the grant is made, in a few words, for `proves`. */
  issued: string;
  /** The longest a grant through the role can live, seconds; null: no end, or not known. */
  lifeSeconds: number | null;
  /** What bounds it, in the role's own settings. */
  because: string;
  secretPath: string | undefined;
}

/**
 * The role's scenarios. The window is the shorter of the role's lifetime and the policy's bound.
 * A grant that expires within `maxWaitSeconds` is left to expire; a longer one is revoked at task
 * end, with an opt-in twin that waits out the expiry.
 */
function scenariosFor(role: RoleCase, policy: DiscoveryPolicy): Discovery['scenarios'] {
  const window = Math.min(role.lifeSeconds ?? Infinity, policy.maxWindowSeconds);
  const secret = role.secretPath ?? CHANGE_ME;
  const reads = role.secretPath ? `reads the secret at ${role.secretPath}` : 'reads the secret named in use.params.existing.secretPath';
  const base = {
    adapter: 'vault',
    severity: 'critical',
    grant: role.grant,
    use: { point: 'kv-secret', params: { existing: { secretPath: secret } } },
    task: { windowSeconds: window, needs: [`read ${secret}`] },
  };
  const judged = `The role is read, never changed; its own lifetime (${role.because}) is judged against the approval window of ${window} s.`;
  const expire = {
    id: role.id,
    scenario: {
      title: `${capitalised(role.object)}: a grant dies at its expiry`,
      proves: `${role.issued} ${reads}. Once its TTL has passed (at most the ${window}-second window) plus one second of grace, the same token must be denied and nothing it made may be left. ${judged}`,
      ...base,
      end: { mode: 'expire', graceSeconds: 1 },
      reuse: { deadlineSeconds: 3 },
    },
  };
  if (window <= policy.maxWaitSeconds) return [expire];
  return [
    {
      id: role.id,
      scenario: {
        title: `${capitalised(role.object)}: a grant is revoked at task end`,
        proves: `${role.issued} ${reads}. When the task ends the broker revokes it, and the target must deny it within two seconds: access ends with the task, not with the role's timer. ${judged}`,
        ...base,
        end: { mode: 'revoke' },
        reuse: { deadlineSeconds: 2 },
      },
    },
    { ...expire, id: `${role.id}-expire`, optIn: true },
  ];
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The judges' findings as static findings of `object`; one they could not judge becomes a note, never a pass. */
function judged(object: string, findings: Finding[], found: Found): void {
  for (const f of findings) {
    if (f.verdict === 'inconclusive') found.notes.push(`${object}: ${f.check} not judged: ${f.detail}`);
    else found.findings.push({ object, check: f.check, verdict: f.verdict, detail: f.detail });
  }
}

function readRole(readings: TargetReadings, path: string): Promise<RoleSettings> {
  return readings.read(async () => (await readings.client.api.call<{ data: RoleSettings }>('GET', path)).data);
}

async function tokenRoles(readings: TargetReadings, mount: AuthMount, policy: DiscoveryPolicy, found: Found): Promise<void> {
  const names = (await list(readings.client, 'auth/token/roles')).filter((n) => !n.startsWith(runPrefix()));
  await Promise.all(
    names.map(async (name) => {
      const role = await readRole(readings, `auth/token/roles/${encodeURIComponent(name)}`);
      const object = `token role ${name}`;
      const reach = tokenReach(role, mount.maxTtl);
      const policies = strings(role.allowed_policies);
      const secretPath = await readings.secretPath(policies);
      if (!secretPath) found.notes.push(`${object}: ${policies.length === 0 ? 'allows no named policy' : `none of its policies (${policies.join(', ')}) reads a KV v2 secret by a path without globs`}; set use.params.existing.secretPath in its scenario`);
      found.roles.push({
        id: `token-role-${name}`,
        object,
        grant: { adapter: 'vault', source: 'token', params: { role: name } },
        issued: `A token created from the existing ${object} (auth/token/create/${name})`,
        lifeSeconds: reach.seconds ?? null,
        because: reach.because,
        secretPath,
      });
      judged(object, judgeTokenRole(name, role, mount.maxTtl, policy.maxWindowSeconds), found);
    }),
  );
}

async function appRoles(readings: TargetReadings, mount: AuthMount, policy: DiscoveryPolicy, found: Found): Promise<void> {
  const names = (await list(readings.client, `auth/${mount.path}/role`)).filter((n) => !n.startsWith(runPrefix()));
  await Promise.all(
    names.map(async (name) => {
      const role = await readRole(readings, `auth/${mount.path}/role/${encodeURIComponent(name)}`);
      const object = `AppRole role ${name}${mount.path === 'approle' ? '' : ` (mount ${mount.path})`}`;
      const tokens = tokenReach(role, mount.maxTtl);
      // The secret_id is the grant: it opens logins until it expires (0: never), each login a token.
      const secretIdTtl = typeof role.secret_id_ttl === 'number' ? role.secret_id_ttl : 0;
      const lifeSeconds = secretIdTtl === 0 || tokens.seconds === null || tokens.seconds === undefined ? null : Math.max(secretIdTtl, tokens.seconds);
      const policies = [...strings(role.token_policies), ...strings(role.policies)];
      const secretPath = await readings.secretPath(policies);
      if (!secretPath) found.notes.push(`${object}: ${policies.length === 0 ? 'gives its tokens no named policy' : `none of its token policies (${policies.join(', ')}) reads a KV v2 secret by a path without globs`}; set use.params.existing.secretPath in its scenario`);
      found.roles.push({
        id: `approle-${mount.path === 'approle' ? '' : `${mount.path}-`}${name}`,
        object,
        grant: { adapter: 'vault', source: 'approle-secret-id', params: { role: name, mount: mount.path } },
        issued: `The broker issues a secret_id of the existing ${object}, and the task logs in with it once; the login token`,
        lifeSeconds,
        because: `${secretIdTtl === 0 ? 'secret_id_ttl 0: its secret_ids never expire' : `secret_id_ttl ${secretIdTtl} s`}; login tokens: ${tokens.because}`,
        secretPath,
      });
      judged(object, judgeAppRole(name, role, mount.maxTtl, policy.maxWindowSeconds), found);
    }),
  );
}

interface Found {
  roles: RoleCase[];
  findings: StaticFinding[];
  notes: string[];
}

/** Discovery with what the reader should know beside it: where things were read, what could not be filled. */
export async function discoverVault(client: VaultClient, policy: DiscoveryPolicy): Promise<Discovery & { notes: string[] }> {
  const [mounts, kv] = await Promise.all([authMounts(client), kvV2Mounts(client)]);
  const readings = new TargetReadings(client, kv);
  const found: Found = { roles: [], findings: [], notes: [] };
  await Promise.all(
    mounts.map((mount) => (mount.type === 'token' ? tokenRoles(readings, mount, policy, found) : appRoles(readings, mount, policy, found))),
  );
  // Reads finish in any order: the files and findings do not.
  const roles = found.roles.sort((a, b) => a.id.localeCompare(b.id));
  const kinds = mounts.map((m) => `${m.type} mount ${m.path}/ (max TTL ${m.maxTtl === null ? 'unreadable' : `${m.maxTtl} s`})`).join(', ');
  return {
    scenarios: roles.flatMap((role) => scenariosFor(role, policy)),
    findings: found.findings.sort((a, b) => a.object.localeCompare(b.object) || a.check.localeCompare(b.check)),
    notes: [
      `read ${roles.length} roles from ${kinds || 'no token or AppRole mount'}; KV v2 mounts: ${kv.join(', ') || 'none'}`,
      ...found.notes.sort(),
      ...(roles.length > 0 ? ["zero-standing-privilege stays inconclusive until use.params.existing.requesterTokenEnv names a variable holding the requester's own token"] : []),
    ],
  };
}
