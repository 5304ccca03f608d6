/**
 * The SSH certificate's `audit-trail` on the real local targets: OpenBao's file audit device for
 * the signing, the harness's sshd (LogLevel VERBOSE) for the logins and their end. A complete
 * trail passes; sshd at LogLevel INFO, which writes a refused login without the certificate,
 * fails naming the missing end; an sshd log that cannot be read is inconclusive; an OpenBao with
 * no audit log named declares the issue not evidenced, and the sshd's records are still judged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { connectSsh } from '../../adapters/ssh/client.ts';
import { AUDIT_DEVICE_SETTING, AUDIT_LOG_SETTING } from '../../adapters/vault/audit-log.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { BUILTIN_DIR, toScenario } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { testRunId } from '../support/run-id.ts';

const FILE = join(BUILTIN_DIR, 'ssh', 'ssh-cert-expiry.yaml');

describe("an SSH certificate's request-to-access trail in the targets' own logs", () => {
  let started: StartedTarget[] = [];
  const runId = testRunId();
  const results = new Map<string, ScenarioResult>();

  beforeAll(async () => {
    const sshAdapter = await getAdapter('ssh');
    const vaultAdapter = (await getAdapter('vault')) as Adapter<VaultClient>;
    started = await bringUp([sshAdapter, vaultAdapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
    const [sshTarget, vaultTarget] = started;
    if (!sshTarget || !vaultTarget) throw new Error('targets did not start');
    const builtin = parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>;
    const use = builtin.use as { point: string; params: Record<string, unknown> };
    const withSettings = (connection: TargetConnection, change: (settings: Record<string, string>) => void): TargetConnection => {
      const settings = { ...connection.settings };
      change(settings);
      return { ...connection, settings };
    };
    const cases: { id: string; profile: string; ssh: TargetConnection; vault: TargetConnection }[] = [
      { id: 'trail-complete', profile: 'hardened', ssh: sshTarget.connection, vault: vaultTarget.connection },
      { id: 'trail-terse-log', profile: 'terse-log', ssh: sshTarget.connection, vault: vaultTarget.connection },
      // A log file that is not there: sshd's records cannot be read.
      { id: 'trail-unreadable', profile: 'hardened', ssh: withSettings(sshTarget.connection, (s) => void (s.logFile = join(s.principalsDir!, '..', 'no-such.log'))), vault: vaultTarget.connection },
      {
        id: 'trail-no-audit-log',
        profile: 'hardened',
        ssh: sshTarget.connection,
        vault: withSettings(vaultTarget.connection, (s) => {
          delete s[AUDIT_LOG_SETTING];
          delete s[AUDIT_DEVICE_SETTING];
        }),
      },
    ];
    const signal = new AbortController().signal;
    await Promise.all(
      cases.map(async (c) => {
        const scenario = await toScenario({ ...builtin, id: c.id, use: { ...use, params: { ...use.params, profile: c.profile } } }, FILE);
        const targets = {
          ...targetsOf({ adapter: sshAdapter, client: connectSsh(c.ssh), connection: c.ssh }),
          ...targetsOf({ adapter: vaultAdapter, client: await vaultAdapter.connect(c.vault), connection: c.vault }),
        };
        results.set(c.id, await runScenario(scenario, { runId, targets, signal }));
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled(started.map((t) => t.stop()));
  });

  const result = (id: string): ScenarioResult => results.get(id) ?? expect.unreachable(`${id} did not run`);
  const summaryOf = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
  const trailOf = (r: ScenarioResult) => r.checks.find((c) => c.name === 'audit-trail') ?? expect.unreachable(`no audit-trail check\n${summaryOf(r)}`);
  const gapsOf = (r: ScenarioResult): string[] => r.evidence.filter((e) => e.data?.notEvidenced === 'audit-trail').map((e) => e.event);

  test('a complete trail passes: the signing in OpenBao\'s log, then the logins, each connection\'s end and a refusal as expired in sshd\'s', () => {
    const r = result('trail-complete');
    const trail = trailOf(r);
    expect(trail.verdict, summaryOf(r)).toBe('pass');
    expect(trail.detail).toMatch(/audit\.log records the certificate's issue \(serial \d+\): response update jitc-\S+-trail-complete-ssh\/issue\/jitc-\S+-trail-complete at /);
    expect(trail.detail).toMatch(/sshd's log records the certificate serial \d+ \(key id jitc-\S+-trail-complete\): use: login from port \d+/);
    // The task's first login, its interactive session and its master: three connections, each ended
    // (the master's by the close of its sessions where the session limit's signal ended it).
    expect(trail.detail.match(/end of the (connection|sessions on the connection) from port \d+/g)).toHaveLength(3);
    expect(trail.detail).toMatch(/end: a login refused as expired: Failed publickey for jitc-ssh from 127\.0\.0\.1 port \d+/);
    expect(trail.controls).toEqual(expect.arrayContaining(['NIST-800-53-AU-2', 'NIST-800-53-AU-12']));
    expect(gapsOf(r)).toEqual([]);
    // The serial is matched through the device's HMAC: the log holds no serial in clear.
    const signing = r.evidence.find((e) => e.event.startsWith("audit record of the certificate's signing"));
    expect(JSON.stringify(signing?.data)).toMatch(/"signedSerial":"hmac-sha256:[0-9a-f]{64}"/);
  });

  // At INFO a session's start and close are not logged either: a connection ended by a signal leaves nothing.
  test("sshd at LogLevel INFO fails: a refused login is logged without the certificate, so its end is missing", () => {
    const r = result('trail-terse-log');
    const trail = trailOf(r);
    expect(trail.verdict, summaryOf(r)).toBe('fail');
    expect(trail.detail).toMatch(/missing from sshd's log: .*end \(no login with certificate serial \d+ \(key id jitc-\S+-trail-terse-log\) refused as expired\)/);
    // Nothing else is wrong with the profile: the sessions end as on the hardened one.
    expect(r.checks.filter((c) => c.verdict !== 'pass').map((c) => c.name), summaryOf(r)).toEqual(['audit-trail']);
  });

  test("an sshd log that cannot be read is inconclusive, never a pass", () => {
    const r = result('trail-unreadable');
    const trail = trailOf(r);
    expect(trail.verdict, summaryOf(r)).toBe('inconclusive');
    expect(trail.detail).toMatch(/sshd's log could not be read: .*ENOENT/);
  });

  test('an OpenBao without an audit log declares the issue not evidenced; sshd\'s records are judged all the same', () => {
    const r = result('trail-no-audit-log');
    expect(gapsOf(r)).toEqual([expect.stringMatching(/^audit-trail not evidenced on this target for the certificate's issue: no OpenBao audit log is named \(vault\.auditLog\)/)]);
    const trail = trailOf(r);
    expect(trail.verdict, summaryOf(r)).toBe('pass');
    expect(trail.detail).not.toMatch(/audit\.log/);
    expect(trail.detail).toMatch(/^sshd's log records the certificate serial/);
  });
});
