/**
 * The one local account the harness's sshd lets certificates log in as. sshd can only switch to
 * another user when it runs as root, and it only logs into an account that exists, so the local
 * target makes one — once, and only if it is missing:
 *
 *   useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh --password '*'
 *
 * A system account, no home directory, a shell (a session runs through it), and `*` as its
 * password field: no password can ever match, yet the account is not locked — sshd without PAM
 * refuses every login of an account whose password field starts with `!`, certificates included.
 * An account of that name that already exists is used as it is, never changed: if it cannot be
 * logged into, the error says what to change.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const LOCAL_USER = 'jitc-ssh';

const USERADD = '/usr/sbin/useradd';

interface Account {
  uid: number;
  shell: string;
  /** The password field of /etc/shadow: `!…` is locked for sshd. */
  password: string | undefined;
}

function readAccount(name: string): Account | undefined {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith(`${name}:`));
  if (!passwd) return undefined;
  const fields = passwd.split(':');
  let password: string | undefined;
  try {
    password = readFileSync('/etc/shadow', 'utf8').split('\n').find((line) => line.startsWith(`${name}:`))?.split(':')[1];
  } catch {
    password = undefined; // not readable: sshd will say
  }
  return { uid: Number(fields[2]), shell: fields[6] ?? '', password };
}

/** Why sshd would refuse every login of this account, or undefined when it would not. */
export function unusableBecause(account: Account): string | undefined {
  if (account.password?.startsWith('!')) return `its password field is locked ("!"), which sshd without PAM refuses for every login: run usermod -p '*' ${LOCAL_USER}`;
  if (/(nologin|false)$/.test(account.shell)) return `its shell is ${account.shell}, which runs no session command: run usermod -s /bin/sh ${LOCAL_USER}`;
  return undefined;
}

/** The account's uid, created first when missing. Says in `log` what it did to the system. */
export async function ensureLocalUser(log: (line: string) => void): Promise<number> {
  let account = readAccount(LOCAL_USER);
  if (!account) {
    if (process.getuid?.() !== 0) throw new Error(`the local ssh target needs root: sshd logs certificates in as the local account ${LOCAL_USER}, which does not exist, and only root can create it (or start jitc as root)`);
    try {
      await run(USERADD, ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', '--password', '*', '--comment', 'jitc ssh target', LOCAL_USER]);
      log(`ssh: created the local account ${LOCAL_USER} (system account, no home, /bin/sh, password field "*")`);
    } catch (error) {
      // Exit 9: another jitc process created it meanwhile.
      if ((error as { code?: unknown }).code !== 9) throw new Error(`could not create the local account ${LOCAL_USER}: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
    }
    account = readAccount(LOCAL_USER);
    if (!account) throw new Error(`useradd reported success but ${LOCAL_USER} is not in /etc/passwd`);
  }
  const why = unusableBecause(account);
  if (why) throw new Error(`the local account ${LOCAL_USER} exists but cannot log in: ${why}`);
  return account.uid;
}
