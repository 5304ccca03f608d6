/**
 * The SSH adapter: an OpenSSH sshd that trusts a user certificate authority, as the place where
 * a certificate-based grant is used and judged. One point of use (`run-command`: log in with a
 * certificate and run `id`, holding an interactive session and a connection-sharing master across
 * the end). It issues nothing itself: certificates come from a CA's grant source, such as
 * OpenBao's ssh engine (the vault adapter's `ssh-certificate`), which signs with the CA this sshd
 * trusts — on the local target, the user CA the harness made for it (`hookEnvironment`).
 */
import type { Adapter } from '../contract.ts';
import { cleanupSsh } from './cleanup.ts';
import { connectSsh, type SshClient } from './client.ts';
import { sshLeftovers } from './leftovers.ts';
import { runCommandPoint } from './points/run-command.ts';
import { sshTargets } from './targets.ts';

const sshAdapter: Adapter<SshClient> = {
  name: 'ssh',
  title: 'OpenSSH sshd with a user certificate authority',
  products: ['OpenSSH'],
  targets: sshTargets,
  connect: async (connection) => connectSsh(connection),
  grantSources: {},
  pointsOfUse: {
    'run-command': runCommandPoint,
  },
  pairs: {},
  cleanup: cleanupSsh,
  leftovers: sshLeftovers,
  longWait: { scenario: 'ssh-cert-expiry', ttlParam: 'ttlSeconds' },
  /**
   * Where the sshd answers and, on the local target, the user CA it trusts: a CA the scenario
   * configures (OpenBao's ssh engine) signs with that key, so its certificates log in here.
   */
  hookEnvironment: ({ settings }) => ({
    JITC_SSH_HOST: settings.host ?? '',
    JITC_SSH_PORT: settings.port ?? '',
    JITC_SSH_USER: settings.user ?? '',
    ...(settings.caKeyFile ? { JITC_SSH_CA_KEY_FILE: settings.caKeyFile, JITC_SSH_CA_PUBLIC_KEY_FILE: settings.caPublicKeyFile ?? `${settings.caKeyFile}.pub` } : {}),
  }),
};

export default sshAdapter;
