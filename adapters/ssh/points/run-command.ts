/**
 * `run-command`: the sshd's point of use. The privileged action is logging in over SSH as the
 * target account and running `id`, with a user certificate for the scenario's own principal —
 * each time with a NEW `ssh` process (OpenSSH's own client), so every answer is a fresh login.
 * The requester holds a key pair of its own and no certificate: before any grant it must be
 * refused.
 *
 * The task's use runs `id`, then opens the two sessions an SSH user keeps open and holds them
 * across the end (sessions.ts): an interactive shell kept busy, and a connection-sharing master.
 * sshd checks a certificate only when a connection logs in, so on stock OpenSSH both outlive it —
 * a finding the report states as a failed `session-ended-with-task`, with how long they stayed
 * usable. The `hardened` profile of the local sshd (sshd-config.ts) shows what it takes to end
 * them: a forced session-limit script that ends every session at the certificate's valid-before
 * and the connection with it, refuses later sessions, and an UnusedConnectionTimeout for a master
 * that runs no session. The local target's other profiles keep what a run showed does not do it:
 * idle timeouts alone (an active session lives on), and a session limit that leaves its
 * connection open on the server.
 *
 * What reaches the resource (residue) is read on the server: the scenario's principal while its
 * file exists, and each connection the scenario opened that sshd still serves.
 *
 * Broken setup for a mutant: the requester already holds a certificate of the same CA for the
 * principal (a standing certificate), a second path to the login that no grant controls.
 *
 * The certificate's use and end as sshd's own log records them (`audit-trail`, login-trail.ts): its
 * logins by serial, each connection's end (or the close of its sessions), and a login refused once
 * it expired.
 *
 * On an external sshd nothing is created: the principal is the one the config names, the server's
 * processes cannot be read, and only the stock and (if configured) hardened ports exist.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { credentialOf, type Credential, type CredentialType, type PointOfUse, type ProbeResult, type ScenarioContext } from '../../contract.ts';
import { parseCertificate } from '../certificate.ts';
import { type ClientFiles, credentialFiles, removeScenarioFiles, scenarioFiles } from '../client-files.ts';
import { portOf, type SshClient } from '../client.ts';
import { runSsh, type SshTarget } from '../openssh.ts';
import { addPrincipal, hasPrincipal, removePrincipal } from '../principals.ts';
import { readLogin } from '../probes.ts';
import { judgeLoginTrail, markResidueRead, openLoginTrail, rememberLogin } from '../login-trail.ts';
import { lastLogLine, loginFromLog, readLog, servedConnections } from '../server-sessions.ts';
import { type HeldSession, openInteractive, openMaster, type ServerSide } from '../sessions.ts';
import { PROFILES } from '../sshd-config.ts';
import { SSH_KEYGEN } from '../targets.ts';
import { PRINCIPAL_TERM, USER_TERM } from '../terms.ts';

const run = promisify(execFile);

const params = z.strictObject({
  /** Which sshd profile (port) the task logs in at: OpenSSH as shipped, or one that ends sessions with the certificate. */
  profile: z.enum(PROFILES).default('stock'),
  /** Open an interactive session and a connection-sharing master during the task and probe them after its end. */
  keepSessionsOpen: z.boolean().default(true),
  /** Broken setup: the requester already holds a long-lived certificate of the same CA for the principal. */
  standingCertificate: z.boolean().default(false),
});
type Params = z.infer<typeof params>;
type Ctx = ScenarioContext<Params, SshClient>;

const ACCEPTS: readonly CredentialType[] = ['ssh-certificate'];
const FILES = 'files';
const PRINCIPAL = 'principal';
const REQUESTER = 'requester';
const HELD = 'held';

function files(ctx: Ctx): ClientFiles {
  const found = ctx.state.get(FILES) as ClientFiles | undefined;
  if (!found) throw new Error('no client directory: setup did not run');
  return found;
}

/**
 * The server's own side of a held connection: on the local target, whether the harness's sshd
 * still serves it; an external sshd's side cannot be read, so none is given.
 */
function serverSide(ctx: Ctx): ServerSide {
  const local = ctx.client.local;
  return (clientPort) => {
    if (!local) return undefined;
    const [served] = servedConnections(local, [clientPort]);
    return served ? { served: true, detail: `sshd pid ${served.pid} serves port ${clientPort}` } : { served: false, detail: `no sshd child serves port ${clientPort}` };
  };
}

function target(ctx: Ctx): SshTarget {
  return { client: ctx.client, files: files(ctx), port: portOf(ctx.client, ctx.params.profile) };
}

function held(ctx: Ctx): HeldSession[] {
  return (ctx.state.get(HELD) as HeldSession[] | undefined) ?? [];
}

/** A credential this point cannot use proves nothing about the login: unknown, never denied. */
function unusable(credential: Credential): ProbeResult {
  return { outcome: 'unknown', at: new Date().toISOString(), detail: `ssh/run-command cannot use a ${credential.type} credential (it accepts ${ACCEPTS.join(', ')})` };
}

/** A new login with the certificate, running `id`. */
async function login(ctx: Ctx, credential: Extract<Credential, { type: 'ssh-certificate' }>): Promise<ProbeResult> {
  const keys = credentialFiles(files(ctx), credential);
  const answer = await runSsh(target(ctx), { keys, verbose: true }, ['id']);
  return readLogin(answer, ctx.client.user, keys.certificate ?? keys.key);
}

async function keygen(args: string[]): Promise<void> {
  try {
    await run(SSH_KEYGEN, args);
  } catch (error) {
    throw new Error(`ssh-keygen: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
  }
}

/** A public key's `SHA256:…` fingerprint, as ssh-keygen states it: what evidence names a key by. */
async function keyFingerprint(publicKeyFile: string): Promise<string> {
  const { stdout } = await run(SSH_KEYGEN, ['-l', '-f', publicKeyFile]);
  return stdout.split(/\s+/)[1] ?? 'unknown';
}

/** What sshd itself says about one of the scenario's connections, for evidence. */
function serverSays(ctx: Ctx, clientPort: number | undefined): Record<string, string> {
  const local = ctx.client.local;
  if (!local || clientPort === undefined) return {};
  const log = readLog(local);
  const login = loginFromLog(log, clientPort);
  return { ...(login ? { keyId: login.keyId, serial: login.serial } : {}), lastServerLogLine: lastLogLine(log, clientPort) ?? 'none' };
}

export const runCommandPoint: PointOfUse<Params, SshClient> = {
  title: 'Log in over SSH with a user certificate and run a command',
  params,
  accepts: ACCEPTS,
  offers: [PRINCIPAL_TERM, USER_TERM],

  checks: (p) => [...(p.keepSessionsOpen ? ['session-ended-with-task'] : []), 'audit-trail'],

  remediation: {
    'zero-standing-privilege': 'Let no key or certificate of the requester reach the account: no authorized_keys entry, and no certificate of a trusted CA naming the principal outside a grant.',
    'session-ended-with-task':
      "End sessions with the certificate: force a session limit at the certificate's valid-before (ExposeAuthInfo yes and a ForceCommand that runs the session under `timeout` and then ends the connection, refusing any session after it), set UnusedConnectionTimeout so a connection-sharing master without sessions is closed, and disable forwarding; idle timeouts alone do not end an active session.",
    'audit-trail':
      "Keep the CA's and the server's own records of every certificate: a file audit device in OpenBao's configuration whose log jitc may read (vault.auditLog) for the signing, and sshd at LogLevel VERBOSE, which logs each login with its certificate's key id and serial, each connection's end and each refused login",
    'no-residue': 'Close every connection opened with the certificate when it expires (the forced session limit ending its connection, UnusedConnectionTimeout), and remove the principal once the task is over.',
  },

  async setup(ctx) {
    const own = scenarioFiles(ctx.client, ctx.prefix);
    ctx.state.set(FILES, own);
    const local = ctx.client.local;
    const principal = local ? ctx.prefix : ctx.client.principal ?? ctx.client.user;
    ctx.state.set(PRINCIPAL, principal);
    if (local) {
      addPrincipal(local, principal);
      ctx.evidence.record('principal authorised for the account (a file of its own in the principals directory)', { principal, account: ctx.client.user });
    } else {
      ctx.evidence.record('external sshd: its own principal for the account is used as it is; nothing is created on it', { principal, account: ctx.client.user });
    }
    const key = join(own.dir, 'requester');
    await keygen(['-q', '-t', 'ed25519', '-N', '', '-C', `${ctx.prefix}-requester`, '-f', key]);
    ctx.state.set(REQUESTER, key);
    const requester = { key: await keyFingerprint(`${key}.pub`) };
    if (ctx.params.standingCertificate) {
      if (!local) throw new Error('standingCertificate: the broken setup signs with the local target\'s user CA; an external sshd\'s CA is not the harness\'s to use');
      await keygen(['-q', '-s', local.caKeyFile, '-I', `${ctx.prefix}-standing`, '-n', principal, '-V', '-5m:+52w', '-z', '1', `${key}.pub`]);
      ctx.evidence.record('broken setup: the requester holds a standing certificate of the trusted CA for the principal', { ...requester, certificate: parseCertificate(readFileSync(`${key}-cert.pub`, 'utf8')).keyId });
    } else {
      ctx.evidence.record('requester key pair made, with no certificate', requester);
    }
    await openLoginTrail(ctx);
    const port = portOf(ctx.client, ctx.params.profile);
    return {
      description: `log in as ${ctx.client.user} at ${ctx.client.host}:${port} (${ctx.params.profile} profile) with a certificate for principal ${principal}, and run id`,
      terms: { [PRINCIPAL_TERM]: principal, [USER_TERM]: ctx.client.user },
    };
  },

  async entitlements(ctx) {
    const local = ctx.client.local;
    if (!local) return [];
    await markResidueRead(ctx);
    const principal = ctx.state.get(PRINCIPAL) as string | undefined;
    const found: string[] = principal && hasPrincipal(local, principal) ? [`principal ${principal} authorised for ${ctx.client.user}`] : [];
    const sessions = held(ctx).filter((s) => s.clientPort !== undefined);
    const served = servedConnections(local, sessions.map((s) => s.clientPort!));
    for (const connection of served) {
      const session = sessions.find((s) => s.clientPort === connection.clientPort);
      found.push(`open ssh connection of ${ctx.client.user} from port ${connection.clientPort} (${session?.what ?? 'opened during the task'}; sshd pid ${connection.pid})`);
    }
    return found;
  },

  async probeStanding(ctx) {
    const key = ctx.state.get(REQUESTER) as string;
    const standing = ctx.params.standingCertificate;
    const keys = standing ? { key, certificate: `${key}-cert.pub` } : { key };
    const answer = await runSsh(target(ctx), { keys, verbose: true }, ['id']);
    return readLogin(answer, ctx.client.user, standing ? `${key}-cert.pub` : key);
  },

  async probe(ctx, credential) {
    const certificate = credentialOf(credential, 'ssh-certificate');
    return certificate ? login(ctx, certificate) : unusable(credential);
  },

  async use(ctx, credential) {
    const certificate = credentialOf(credential, 'ssh-certificate');
    if (!certificate) return unusable(credential);
    const used = await login(ctx, certificate);
    if (used.outcome === 'allowed') {
      const facts = parseCertificate(certificate.certificate);
      rememberLogin(ctx, { serial: facts.serial, keyId: facts.keyId });
    }
    if (used.outcome !== 'allowed' || !ctx.params.keepSessionsOpen) return used;
    const keys = credentialFiles(files(ctx), certificate);
    const sessions: HeldSession[] = [];
    // Remembered as each opens: teardown closes whatever opened, even if the other one throws.
    ctx.state.set(HELD, sessions);
    // Both at once: a grant of a few seconds leaves no time to open them one after the other.
    const side = serverSide(ctx);
    await Promise.all([openInteractive(target(ctx), keys, ctx.client.user, side), openMaster(target(ctx), keys, ctx.client.user, side)].map((opening) => opening.then((s) => void sessions.push(s))));
    sessions.sort((a, b) => a.what.localeCompare(b.what));
    for (const session of sessions) {
      ctx.evidence.record(`${session.what}, kept open across the end: ${session.opened.outcome}`, {
        profile: ctx.params.profile,
        answer: session.opened.detail,
        clientPort: session.clientPort ?? null,
        ...serverSays(ctx, session.clientPort),
      });
    }
    return { ...used, sessions: sessions.map((s) => s.handle) };
  },

  async inspect(_ctx, credential) {
    const certificate = credentialOf(credential, 'ssh-certificate');
    if (!certificate) return undefined;
    const facts = parseCertificate(certificate.certificate);
    const until = facts.validBefore;
    return {
      expiresAt: until ? until.toISOString() : null,
      ...(facts.validAfter ? { issuedAt: facts.validAfter.toISOString() } : {}),
      // What is left of it from now: its valid-after is often backdated for clock skew, which is no lifetime granted.
      ttlSeconds: until ? Math.max(0, Math.ceil((until.getTime() - Date.now()) / 1000)) : null,
      attributes: { serial: facts.serial, keyId: facts.keyId, principals: facts.principals.join(','), extensions: facts.extensions.join(','), signingCa: facts.signingCa },
      detail: `certificate serial ${facts.serial} (key id ${facts.keyId}), valid ${facts.validAfter?.toISOString() ?? 'always'} to ${until?.toISOString() ?? 'forever'}, principals ${facts.principals.join(', ') || 'none'}`,
    };
  },

  // Runs after the grant source's teardown. The engine closed the held sessions it was handed;
  // closing again is harmless, and catches sessions of a use that broke before handing them over.
  async teardown(ctx) {
    try {
      await judgeLoginTrail(ctx);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `sshd's log could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    }
    const removed: string[] = [];
    for (const session of held(ctx)) await session.handle.close?.();
    const local = ctx.client.local;
    const principal = ctx.state.get(PRINCIPAL) as string | undefined;
    if (local) {
      for (const session of held(ctx)) {
        if (session.clientPort !== undefined) ctx.evidence.record(`server's last word on the ${session.what}`, serverSays(ctx, session.clientPort));
      }
      if (principal) removed.push(...removePrincipal(local, principal));
    }
    removed.push(...removeScenarioFiles(ctx.prefix));
    return removed;
  },
};
