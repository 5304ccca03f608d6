/**
 * The sshd scenario and its broken twin against a real OpenSSH sshd the test starts, with
 * certificates from a real OpenBao; and proof that the harness's sshd is its own (own
 * configuration, host key and CA in a temporary directory, 127.0.0.1 only, /etc/ssh untouched),
 * that its principals, profiles and idle limits do what the scenario's evidence says they do, and
 * that the external mode and the cleanup sweep work against it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { connectSsh, portOf, type SshClient } from '../../adapters/ssh/client.ts';
import { clientsBase, dirNameOf, removeScenarioFiles, scenarioFiles } from '../../adapters/ssh/client-files.ts';
import { runSsh, sshArgs, sshEnvironment } from '../../adapters/ssh/openssh.ts';
import { addPrincipal, removePrincipal } from '../../adapters/ssh/principals.ts';
import { readLogin } from '../../adapters/ssh/probes.ts';
import { readLog } from '../../adapters/ssh/server-sessions.ts';
import { PROFILES } from '../../adapters/ssh/sshd-config.ts';
import { readBanner, SSH } from '../../adapters/ssh/targets.ts';
import { freePort, startLocalServer } from '../../adapters/local-process.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { parse } from 'yaml';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { BUILTIN_DIR, toScenario } from '../../scenarios/load.ts';
import { targetsOf } from '../support/bound.ts';
import { fileTree, systemDaemons } from '../support/system-state.ts';
import { describeConformance } from '../support/conformance.ts';
import { testRunId } from '../support/run-id.ts';

/** The system's own sshd processes: not a jitc listener (run from a jitc work directory), nor a connection's own process of one ("sshd: jitc-ssh …"). */
const systemSshdPids = (): number[] => systemDaemons('sshd', (cmdline) => cmdline.includes('/jitc-ssh-') || cmdline.startsWith('sshd: jitc-ssh'));
const systemSshConfig = (): Record<string, string> => fileTree('/etc/ssh');

const systemConfigBefore = systemSshConfig();
const sshdBefore = systemSshdPids();

describeConformance('ssh');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("the harness's sshd is its own", () => {
  let target: StartedTarget | undefined;
  let coldStartMs = 0;
  const started = (): StartedTarget => target ?? expect.unreachable('the local sshd did not start');
  const client = (): SshClient => connectSsh(started().connection);
  const runId = testRunId();

  beforeAll(async () => {
    const adapter = await getAdapter('ssh');
    const began = Date.now();
    [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
    coldStartMs = Date.now() - began;
  });
  afterAll(async () => {
    await target?.stop();
  });

  /** A certificate of the target's own CA for `principal`, in a client directory of the test's own. */
  function certificateFor(principal: string, validity: string): { files: ReturnType<typeof scenarioFiles>; key: string; certificate: string } {
    const local = client().local ?? expect.unreachable('no local files');
    const files = scenarioFiles(client(), principal);
    const key = join(files.dir, 'holder');
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-s', local.caKeyFile, '-I', principal, '-n', principal, '-V', validity, `${key}.pub`]);
    return { files, key, certificate: `${key}-cert.pub` };
  }

  test('it runs from an sshd_config in a temporary directory, listening on 127.0.0.1 only, one port per profile', () => {
    const { pid } = started();
    // sshd retitles its listener: `sshd: /usr/sbin/sshd -D -e -f <config> [listener] …`.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/^sshd: \/usr\/sbin\/sshd -D -e -f \/tmp\/jitc-ssh-[^/ ]+\/sshd_config \[listener\]/);
    const listening = readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A');
    const ownSockets = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => /^socket:\[(\d+)\]$/.exec(readlinkOrEmpty(`/proc/${pid}/fd/${fd}`))?.[1]));
    const own = listening.filter((f) => ownSockets.has(f[9]));
    expect(own.map((f) => f[1]!.split(':')[0])).toEqual(PROFILES.map(() => '0100007F'));
    expect(own.map((f) => Number.parseInt(f[1]!.split(':')[1]!, 16)).sort()).toEqual(PROFILES.map((p) => portOf(client(), p)).sort());
    // What the report states as the cold start: an sshd up, with its keys, in well under the scenario's window.
    console.log(`[ssh] local sshd cold start ${coldStartMs} ms (target says ${started().connection.facts.coldStartMs} ms)`);
    expect(coldStartMs).toBeLessThan(10_000);
  });

  test('a certificate of its CA logs in only while its principal has a file, and a key without a certificate never', async () => {
    const local = client().local ?? expect.unreachable('no local files');
    const principal = `jitc-${runId}-principal-check`;
    const { files, key, certificate } = certificateFor(principal, '-1m:+5m');
    // ssh loads <key>-cert.pub by itself: a key refused without its certificate needs a file of its own.
    const plain = join(files.dir, 'plain');
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plain]);
    const at = { client: client(), files, port: portOf(client(), 'stock') };
    const login = async (withCert: boolean) =>
      readLogin(await runSsh(at, { keys: withCert ? { key, certificate } : { key: plain }, verbose: true }, ['id']), client().user, withCert ? certificate : plain);
    try {
      expect((await login(true)).outcome).toBe('denied');
      addPrincipal(local, principal);
      expect(await login(true)).toMatchObject({ outcome: 'allowed', detail: expect.stringMatching(/^logged in and ran id: uid=\d+\(jitc-ssh\)$/) });
      expect((await login(false)).outcome).toBe('denied');
      removePrincipal(local, principal);
      expect((await login(true)).outcome).toBe('denied');
      // sshd's own record of the refusal and of the login, with the certificate's key id.
      expect(readLog(local)).toContain(`ID ${principal} (serial 0) CA ED25519`);
    } finally {
      removePrincipal(local, principal);
      removeScenarioFiles(`jitc-${runId}-principal-check`);
    }
  });

  test('hardened: a connection-sharing master that runs no session is closed by UnusedConnectionTimeout; stock keeps it', async () => {
    const local = client().local ?? expect.unreachable('no local files');
    const principal = `jitc-${runId}-idle-master`;
    const { files, key, certificate } = certificateFor(principal, '-1m:+5m');
    addPrincipal(local, principal);
    try {
      // Both at once: each master runs no session for 4 s, twice the hardened profile's limit.
      const idleMaster = async (profile: 'hardened' | 'stock'): Promise<string> => {
        const at = { client: client(), files: { ...files, controlSocket: join(files.dir, `m-${profile}`) }, port: portOf(client(), profile) };
        const master = spawn(SSH, [...sshArgs(at, { keys: { key, certificate }, sharing: 'master' }), '-N'], { env: sshEnvironment(files), stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        master.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const exited = new Promise<void>((r) => master.once('close', () => r()));
        await sleep(4000);
        const seen = master.exitCode === null ? 'open' : `closed: ${stderr.trim()}`;
        master.kill('SIGTERM');
        await exited;
        return seen;
      };
      const [hardened, stock] = await Promise.all([idleMaster('hardened'), idleMaster('stock')]);
      const outcome = { hardened, stock };
      expect(outcome.hardened).toMatch(/^closed: .*closed by remote host/);
      expect(outcome.stock).toBe('open');
      expect(readLog(local)).toMatch(/terminating inactive connection from user jitc-ssh/);
    } finally {
      removePrincipal(local, principal);
      removeScenarioFiles(`jitc-${runId}-idle-master`);
    }
  });

  test('ChannelTimeout ends a session left idle, never one kept busy (where sshd 9.2 applies it: outside Match)', async () => {
    const local = client().local ?? expect.unreachable('no local files');
    const principal = `jitc-${runId}-idle-shell`;
    const { files, key, certificate } = certificateFor(principal, '-1m:+5m');
    addPrincipal(local, principal);
    // sshd 9.2 accepts ChannelTimeout in a Match block (sshd -T shows it) but applies it only
    // globally: an sshd of the test's own, beside the target, with the target's CA and principals.
    const dir = mkdtempSync(join(tmpdir(), 'jitc-ssh-channel-timeout-'));
    const port = await freePort();
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    const config = join(dir, 'sshd_config');
    const base = readFileSync(join(local.principalsDir, '..', 'sshd_config'), 'utf8').split('\n');
    const kept = base.filter((l) => !/^(ListenAddress|HostKey|PidFile|Match|\s)/.test(l));
    writeFileSync(config, [`ListenAddress 127.0.0.1:${port}`, `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`, ...kept, 'ChannelTimeout session:*=2', ''].join('\n'), { mode: 0o600 });
    const server = await startLocalServer({ name: 'sshd-channel-timeout', command: '/usr/sbin/sshd', args: ['-D', '-e', '-f', config], workDir: dir, projectRoot: PROJECT_ROOT, runId, ready: async () => (await readBanner('127.0.0.1', port)).startsWith('SSH-2.0-') });
    const pinned = { ...files, knownHosts: join(files.dir, 'known_hosts_channel_timeout') };
    writeFileSync(pinned.knownHosts, `jitc-ssh-target ${readFileSync(join(dir, 'host_key.pub'), 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const at = { client: client(), files: pinned, port };
    const shell = (busy: boolean): Promise<string> =>
      new Promise((resolve) => {
        const child = spawn(SSH, [...sshArgs(at, { keys: { key, certificate } }), '-T'], { env: sshEnvironment(files), stdio: ['pipe', 'ignore', 'ignore'] });
        child.stdin.on('error', () => undefined);
        const keep = busy ? setInterval(() => child.stdin.write(':\n'), 500) : undefined;
        const timer = setTimeout(() => {
          clearInterval(keep);
          child.kill('SIGTERM');
          resolve('open after 5 s');
        }, 5000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          clearInterval(keep);
          resolve(`ended (exit ${code})`);
        });
      });
    try {
      const [idle, busy] = await Promise.all([shell(false), shell(true)]);
      expect(idle).toMatch(/^ended /);
      expect(busy).toBe('open after 5 s');
      expect(readFileSync(server.logFile, 'utf8')).toMatch(/closing after 2 seconds of inactivity/);
    } finally {
      await server.stop();
      removePrincipal(local, principal);
      removeScenarioFiles(`jitc-${runId}-idle-shell`);
    }
  });

  test('the external mode reaches it with an ssh: section, and pins its host key', async () => {
    const c = client();
    const external = (await getAdapter('ssh')).targets.external ?? expect.unreachable('no external mode');
    const knownHosts = `[127.0.0.1]:${portOf(c, 'stock')} ${c.knownHosts}`;
    const options = { runId: 'x', workDir: '/nonexistent', projectRoot: PROJECT_ROOT, log: () => undefined };
    const connection = await external.connect({ ...options, config: { host: '127.0.0.1', port: portOf(c, 'stock'), hardenedPort: portOf(c, 'hardened'), user: 'jitc-ssh', knownHosts } });
    const reached = connectSsh(connection);
    expect(reached).toMatchObject({ mode: 'external', host: '127.0.0.1', user: 'jitc-ssh', principal: 'jitc-ssh', knownHosts: c.knownHosts });
    expect(reached.ports).toEqual({ stock: portOf(c, 'stock'), hardened: portOf(c, 'hardened') });
    expect(reached.local).toBeUndefined();
    expect(connection.facts.version).toMatch(/^OpenSSH_/);
    await expect(external.connect({ ...options, config: { host: '127.0.0.1', port: 1, user: 'jitc-ssh', knownHosts } })).rejects.toThrow(/^external ssh target 127\.0\.0\.1:1 \(stock\) is not usable: ECONNREFUSED$/);
  });

  test('cleanup removes what a killed run left, by its run id, and reports it', async () => {
    const adapter = (await getAdapter('ssh')) as Adapter<SshClient>;
    const c = client();
    const local = c.local ?? expect.unreachable('no local files');
    const killed = testRunId();
    const other = testRunId();
    addPrincipal(local, `jitc-${killed}-ssh-cert-expiry`);
    addPrincipal(local, `jitc-${other}-ssh-cert-expiry`);
    const dir = scenarioFiles(c, `jitc-${killed}-ssh-cert-expiry`).dir;
    writeFileSync(join(dir, 'cred-0'), 'left over');
    mkdirSync(join(clientsBase(), dirNameOf(`jitc-${other}-x`)), { recursive: true, mode: 0o700 });
    expect(await adapter.leftovers(c, killed)).toEqual([`client directory ${dir}`, `principal jitc-${killed}-ssh-cert-expiry`]);
    const sweep = await adapter.cleanup(c, killed);
    expect(sweep.failed).toEqual([]);
    expect([...sweep.removed].sort()).toEqual([`client directory ${dir}`, `principal jitc-${killed}-ssh-cert-expiry`]);
    expect(await adapter.cleanup(c, killed)).toEqual({ removed: [], failed: [] });
    expect(await adapter.leftovers(c, killed)).toEqual([]);
    const rest = await adapter.cleanup(c, other);
    expect([...rest.removed].sort()).toEqual([`client directory ${join(clientsBase(), `jitc-${other}-x`)}`, `principal jitc-${other}-ssh-cert-expiry`]);
  });

  test('stopping it ends the process by its pid and removes its configuration', async () => {
    const { pid } = started();
    const conf = / -f (\S+sshd_config) /.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? '';
    expect(existsSync(conf)).toBe(true);
    await started().stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(conf)).toBe(false);
  });

  test('the checks above left no principal or client directory of theirs behind', async () => {
    expect(readdirSync(clientsBase()).filter((name) => name.startsWith(`jitc-${runId}-`))).toEqual([]);
  });

  test('the system ssh configuration (/etc/ssh) is unchanged and no system sshd was started', () => {
    expect(systemSshConfig()).toEqual(systemConfigBefore);
    expect(systemSshdPids()).toEqual(sshdBefore);
  });
});

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return ''; // closed meanwhile
  }
}

describe("a user's own sshd and ssh engine: the external mode with an existing mount and role", () => {
  let started: StartedTarget[] = [];
  const runId = testRunId();

  beforeAll(async () => {
    started = await bringUp([await getAdapter('ssh'), await getAdapter('vault')], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  });
  afterAll(async () => {
    await Promise.allSettled(started.map((t) => t.stop()));
  });

  test('a certificate of their role logs in, every session ends with it on the hardened port as far as the connection shows, and nothing is created on either', async () => {
    const [sshTarget, vaultTarget] = started;
    if (!sshTarget || !vaultTarget) return expect.unreachable('targets did not start');
    const local = connectSsh(sshTarget.connection);
    const files = local.local ?? expect.unreachable('no local files');
    // The user's side, made by the test as a user would have it: a principal their sshd accepts,
    // and an engine mount and role signing with the CA it trusts. Not carrying the run prefix.
    const principal = `deploy-${runId}`;
    const mount = `user-ssh-${runId}`;
    const role = 'deploy';
    addPrincipal(files, principal);
    const vaultAdapter = (await getAdapter('vault')) as Adapter<VaultClient>;
    const vault = await vaultAdapter.connect(vaultTarget.connection);
    await vault.api.call('POST', `sys/mounts/${mount}`, { type: 'ssh' });
    try {
      await vault.api.call('POST', `${mount}/config/ca`, { private_key: readFileSync(files.caKeyFile, 'utf8'), public_key: readFileSync(files.caPublicKeyFile, 'utf8') });
      await vault.api.call('POST', `${mount}/roles/${role}`, { key_type: 'ca', allow_user_certificates: true, allowed_users: principal, default_user: principal, ttl: '5s', max_ttl: '5s' });
      const sshAdapter = await getAdapter('ssh');
      const external = sshAdapter.targets.external ?? expect.unreachable('no external mode');
      const connection = await external.connect({
        runId,
        workDir: '/nonexistent',
        projectRoot: PROJECT_ROOT,
        log: () => undefined,
        config: { host: '127.0.0.1', port: portOf(local, 'stock'), hardenedPort: portOf(local, 'hardened'), user: 'jitc-ssh', principal, knownHosts: local.knownHosts },
      });
      const builtin = parse(readFileSync(join(BUILTIN_DIR, 'ssh', 'ssh-cert-expiry.yaml'), 'utf8')) as Record<string, unknown>;
      const scenario = await toScenario({ ...builtin, id: 'ssh-user-role', grant: { adapter: 'vault', source: 'ssh-certificate', params: { mount, role } } }, join(BUILTIN_DIR, 'ssh', 'ssh-cert-expiry.yaml'));
      const targets = { ...targetsOf({ adapter: sshAdapter, client: connectSsh(connection), connection }), ...targetsOf({ adapter: vaultAdapter, client: vault, connection: vaultTarget.connection }) };
      const signal = new AbortController().signal;
      const result = await runScenario(scenario, { runId, targets, signal });
      const summary = result.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
      // Every check holds but one that cannot be seen from here: the master's connection ends by
      // sshd's UnusedConnectionTimeout, a bare TCP close that a bastion could make as well, and an
      // external sshd's own side cannot be read. The interactive session's end came through the
      // connection (its exit status) and counts.
      expect(result.verdict, summary).toBe('inconclusive');
      expect(result.checks.filter((c) => c.verdict !== 'pass').map((c) => c.name), summary).toEqual(['session-ended-with-task']);
      const ended = result.checks.find((c) => c.name === 'session-ended-with-task')?.detail ?? '';
      expect(ended).toMatch(/connection-sharing master .*a bare TCP close, .*cannot be read here: not taken as the server ending it/);
      expect(ended).toMatch(/interactive ssh session opened during the task denied \d+ ms after the end \(the server ended the session at .*: the remote side exited with status 124/);
      // Only the harness's own client files were removed: nothing was made on the sshd or in OpenBao.
      expect(result.teardown.removed).toEqual([expect.stringMatching(/^client directory .*jitc-.*-ssh-user-role$/)]);
      expect(result.evidence.map((e) => e.event)).toContain(`existing ssh role ${mount}/${role} left unchanged`);
      // The signing is in OpenBao's audit log; an external sshd's log is not jitc's to read, a gap shown as such.
      expect(result.checks.find((c) => c.name === 'audit-trail')?.detail).toMatch(new RegExp(`records the certificate's issue \\(serial \\d+\\): response update ${mount}/issue/${role} at `));
      expect(result.evidence.filter((e) => e.data?.notEvidenced === 'audit-trail').map((e) => e.event)).toEqual([expect.stringMatching(/use and end: an external sshd's log is not readable by jitc$/)]);
      const mounts = await vault.api.call<{ data: Record<string, unknown> }>('GET', 'sys/mounts');
      expect(Object.keys(mounts.data).filter((m) => m.includes(runId))).toEqual([`${mount}/`]);
    } finally {
      await vault.api.call('DELETE', `sys/mounts/${mount}`);
      removePrincipal(files, principal);
    }
  });
});
