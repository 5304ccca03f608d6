/** An existing token role or AppRole role is judged by its own settings, before any grant (adapters/vault/role-findings.ts). */
import { describe, expect, test } from 'vitest';
import { judgeAppRole, judgeTokenRole, tokenReach } from '../../adapters/vault/role-findings.ts';

const MOUNT_MAX = 2_764_800;
const verdicts = (findings: { check: string; verdict: string }[]): Record<string, string> => Object.fromEntries(findings.map((f) => [f.check, f.verdict]));

describe('a token role', () => {
  test('capped at the window by token_explicit_max_ttl is within it', () => {
    const findings = judgeTokenRole('ci', { token_explicit_max_ttl: 300, renewable: true }, MOUNT_MAX, 300);
    expect(verdicts(findings)).toEqual({ 'role-within-window': 'pass', 'role-trust-narrow': 'pass' });
    expect(findings[0]!.detail).toContain('at most 300 s (token_explicit_max_ttl 300 s)');
  });

  test('whose max TTL is far past the window is reported as fail', () => {
    const [within] = judgeTokenRole('ci', { token_explicit_max_ttl: 86_400 }, MOUNT_MAX, 300);
    expect(within).toMatchObject({ check: 'role-within-window', verdict: 'fail' });
    expect(within!.detail).toContain('past the approval window of 300 s');
  });

  test('setting no cap leaves only the mount max, which any request may ask for: fail', () => {
    const [within] = judgeTokenRole('ci', {}, MOUNT_MAX, 300);
    expect(within!.verdict).toBe('fail');
    expect(within!.detail).toContain(`only the auth mount's max_lease_ttl of ${MOUNT_MAX} s bounds a request`);
  });

  test('setting no cap over a mount tuned down to the window is within it', () => {
    expect(judgeTokenRole('ci', {}, 300, 300)[0]!.verdict).toBe('pass');
  });

  test('setting no cap over a mount whose max cannot be read is inconclusive, never a pass', () => {
    expect(judgeTokenRole('ci', {}, null, 300)[0]!.verdict).toBe('inconclusive');
  });

  test('with a period and no explicit max renews without end: fail, whatever the mount says', () => {
    expect(tokenReach({ token_period: 60 }, 300)).toMatchObject({ seconds: null });
    expect(judgeTokenRole('ci', { token_period: 60 }, 300, 300)[0]!.verdict).toBe('fail');
  });

  test('with a period capped by an explicit max inside the window is within it', () => {
    expect(judgeTokenRole('ci', { token_period: 60, token_explicit_max_ttl: 120 }, MOUNT_MAX, 300)[0]!.verdict).toBe('pass');
  });

  test('the smaller of two caps bounds it', () => {
    expect(tokenReach({ token_explicit_max_ttl: 900, token_max_ttl: 200 }, MOUNT_MAX)).toEqual({ seconds: 200, because: 'token_max_ttl 200 s' });
  });

  test('orphan tokens and unlimited uses are stated, not judged', () => {
    const [within] = judgeTokenRole('ci', { token_explicit_max_ttl: 60, orphan: true, token_num_uses: 0 }, MOUNT_MAX, 300);
    expect(within!.verdict).toBe('pass');
    expect(within!.detail).toContain('orphan tokens (not revoked with their parent), unlimited uses');
  });

  test('letting any caller mint a token for any identity ("*" entity aliases) is not a narrow trust', () => {
    const [, trust] = judgeTokenRole('ci', { token_explicit_max_ttl: 60, allowed_entity_aliases: ['*'] }, MOUNT_MAX, 300);
    expect(trust).toMatchObject({ check: 'role-trust-narrow', verdict: 'fail' });
  });

  test('bound CIDRs, or their absence, are said in the trust detail', () => {
    expect(judgeTokenRole('ci', { token_bound_cidrs: ['10.0.0.0/8'] }, 60, 300)[1]!.detail).toContain('token_bound_cidrs bound to 10.0.0.0/8');
    expect(judgeTokenRole('ci', {}, 60, 300)[1]!.detail).toContain('no token_bound_cidrs: usable from any address');
  });
});

describe('an AppRole role', () => {
  const conformant = { secret_id_ttl: 300, secret_id_num_uses: 1, token_ttl: 300, token_max_ttl: 300, bind_secret_id: true };

  test('whose secret_ids and login tokens end within the window passes', () => {
    expect(verdicts(judgeAppRole('worker', conformant, MOUNT_MAX, 300))).toEqual({ 'role-within-window': 'pass', 'role-trust-narrow': 'pass' });
  });

  test('whose secret_ids never expire (secret_id_ttl 0) fails role-within-window', () => {
    const [within] = judgeAppRole('worker', { ...conformant, secret_id_ttl: 0 }, MOUNT_MAX, 300);
    expect(within!.verdict).toBe('fail');
    expect(within!.detail).toContain('secret_id_ttl 0: its secret_ids never expire');
  });

  test('whose login tokens may live past the window fails role-within-window', () => {
    expect(judgeAppRole('worker', { ...conformant, token_max_ttl: 0 }, MOUNT_MAX, 300)[0]!.verdict).toBe('fail');
  });

  test('without bind_secret_id lets its role_id alone log in: role-trust-narrow fails', () => {
    const [, trust] = judgeAppRole('worker', { ...conformant, bind_secret_id: false }, MOUNT_MAX, 300);
    expect(trust).toMatchObject({ check: 'role-trust-narrow', verdict: 'fail' });
    expect(trust!.detail).toContain('its role_id alone logs in');
  });
});
