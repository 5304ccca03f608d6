/**
 * Every directory scenario and its broken twin against a real OpenLDAP slapd the test starts,
 * and proof that the harness's slapd is its own: own configuration in a temporary directory,
 * 127.0.0.1 only, and the system's LDAP configuration (/etc/ldap) left exactly as it was.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { getAdapter } from '../../adapters/registry.ts';
import { PROJECT_ROOT } from '../../scenarios/load.ts';
import { bringUp } from '../../suites/targets.ts';
import { describeConformance } from '../support/conformance.ts';
import { testRunId } from '../support/run-id.ts';

/** Every file under /etc/ldap with its content hash, mode and mtime: any change shows. */
function systemLdapConfig(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const stat = statSync(path);
      if (entry.isDirectory()) {
        out[path] = `dir ${stat.mode.toString(8)} ${stat.mtimeMs}`;
        walk(path);
      } else if (entry.isFile()) {
        out[path] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${stat.mode.toString(8)} ${stat.mtimeMs}`;
      }
    }
  };
  walk('/etc/ldap');
  return out;
}

function slapdPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'slapd'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const systemConfigBefore = systemLdapConfig();
const slapdBefore = slapdPids();

describeConformance('ldap', {
  expected: {
    'open-session-outlives-grant': {
      verdict: 'fail',
      failedChecks: ['session-ended-with-task'],
      because:
        'slapd keeps a connection bound as the expired account open and still authenticated (Who am I? answers its deleted DN), so it keeps reading what any authenticated identity may; only the membership-granted attribute is refused, once refint drops the membership',
    },
  },
});

describe("the harness's slapd is its own", () => {
  test('it runs from a slapd.conf in a temporary directory, on 127.0.0.1 only, and stops by its pid', async () => {
    const adapter = await getAdapter('ldap');
    const [target] = await bringUp([adapter], { runId: testRunId(), projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
    if (!target?.pid) throw new Error('no local slapd');
    const pid = target.pid;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    await target.stop();
    expect(argv[0]).toBe('/usr/sbin/slapd');
    const conf = argv[argv.indexOf('-f') + 1] ?? '';
    expect(conf).toMatch(/\/jitc-ldap-[^/]+\/slapd\.conf$/);
    expect(conf.startsWith('/etc/')).toBe(false);
    expect(argv).not.toContain('-F');
    expect(argv[argv.indexOf('-h') + 1]).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+\/$/);
    expect(existsSync(conf)).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  test('the system LDAP configuration (/etc/ldap, slapd.d included) is unchanged and no other slapd was started', () => {
    expect(systemLdapConfig()).toEqual(systemConfigBefore);
    expect(slapdPids()).toEqual(slapdBefore);
  });
});
