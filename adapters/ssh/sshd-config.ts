/**
 * The harness's own sshd: an sshd_config and a session-limit script written into the target's
 * work directory, never /etc/ssh. Pure functions, so the configuration can be read (and tested)
 * as text, and checked by `sshd -t`.
 *
 * One sshd, one listening port per profile, each profile a `Match LocalPort` block:
 * - `stock`: OpenSSH as shipped, certificates trusted from one user CA. A certificate's end stops
 *   new logins only; every session and connection opened before it lives on.
 * - `hardened`: what the guidance suggests for ending sessions with the credential, kept where a
 *   run showed it works (the other two profiles hold what did not): a ForceCommand script that
 *   ends each session at the certificate's valid-before and closes the connection with it, and
 *   refuses (and closes) any session asked for later; UnusedConnectionTimeout, which closes a
 *   connection left without channels (a connection-sharing master nobody uses); no forwarding,
 *   whose channels would keep a connection open past the script; MaxSessions 1, one session at
 *   a time (it does not stop connection sharing: a master holds no session of its own).
 * - `idle-timeouts`: the idle limits alone (ChannelTimeout, UnusedConnectionTimeout). They end
 *   what lies idle, not what the certificate no longer allows: an active session lives on.
 *   (sshd 9.2 accepts ChannelTimeout in a Match block but applies it only when set globally;
 *   the integration test shows what it does where it applies: an idle session closed, a busy
 *   one never.)
 * - `session-timeout`: the script alone, ending sessions but never their connection, and no
 *   idle limit: a connection-sharing master stays open on the server, refused every new session.
 * - `terse-log`: the hardened profile at LogLevel INFO instead of VERBOSE. sshd still logs each
 *   accepted login with its certificate's key id and serial, but a login refused once the
 *   certificate expired only as `Certificate invalid: expired`, naming no certificate, and no
 *   session's start or close (measured on OpenSSH 9.2): its log no longer shows that it stopped
 *   taking this certificate, nor how its sessions ended (`audit-trail`).
 *
 * Principals come from a directory, one empty file per principal, listed by
 * AuthorizedPrincipalsCommand: concurrent scenarios each add and remove their own file, and
 * none rewrites a file another one reads.
 */

export const PROFILES = ['stock', 'hardened', 'idle-timeouts', 'session-timeout', 'terse-log'] as const;
export type Profile = (typeof PROFILES)[number];

/** The log level of the `terse-log` profile. */
export const TERSE_LOG_LEVEL = 'INFO';

/** Seconds a connection may stay without any channel before sshd closes it (the profiles that set it). */
export const UNUSED_CONNECTION_TIMEOUT_SECONDS = 2;
/** Seconds a session channel may carry no data before sshd closes it (idle-timeouts only). */
export const CHANNEL_TIMEOUT_SECONDS = 2;

export interface SshdPaths {
  hostKey: string;
  /** Public key of the user CA whose certificates sshd accepts. */
  userCaPublicKey: string;
  /** One empty file per authorised principal. */
  principalsDir: string;
  pidFile: string;
  /** The session-limit script the hardened profiles force. */
  sessionLimit: string;
}

export interface SshdOptions {
  host: string;
  ports: Record<Profile, number>;
  /** The one local account certificates may log in as. */
  user: string;
  paths: SshdPaths;
}

/** sshd's percent_expand would read `%f` as the key's fingerprint: a literal `%` is written `%%`. */
function literalPercent(text: string): string {
  return text.replaceAll('%', '%%');
}

/** The directives of each profile's `Match LocalPort` block. */
export function profileDirectives(profile: Profile, paths: Pick<SshdPaths, 'sessionLimit'>): string[] {
  switch (profile) {
    case 'stock':
      return [];
    case 'hardened':
      return [
        // exec: the script's parent is then this connection's own sshd process, which it ends.
        `ForceCommand exec ${paths.sessionLimit} end-connection`,
        'ExposeAuthInfo yes',
        `UnusedConnectionTimeout ${UNUSED_CONNECTION_TIMEOUT_SECONDS}`,
        'DisableForwarding yes',
        'PermitUserRC no',
        'MaxSessions 1',
      ];
    case 'idle-timeouts':
      // `session:*`: sshd 9.2 names session channels session:shell, session:command…; a bare `session` matches none.
      return [`ChannelTimeout session:*=${CHANNEL_TIMEOUT_SECONDS}`, `UnusedConnectionTimeout ${UNUSED_CONNECTION_TIMEOUT_SECONDS}`];
    case 'session-timeout':
      return [`ForceCommand exec ${paths.sessionLimit} session-only`, 'ExposeAuthInfo yes', 'DisableForwarding yes', 'PermitUserRC no'];
    case 'terse-log':
      return [...profileDirectives('hardened', paths), `LogLevel ${TERSE_LOG_LEVEL}`];
  }
}

export function sshdConfig(options: SshdOptions): string {
  const { paths } = options;
  const lines = [
    '# Written by jitc for its own local sshd; nothing here is read from /etc/ssh.',
    ...PROFILES.map((profile) => `ListenAddress ${options.host}:${options.ports[profile]}`),
    `HostKey ${paths.hostKey}`,
    `PidFile ${paths.pidFile}`,
    // VERBOSE: each login is logged with its certificate's key id and serial.
    'LogLevel VERBOSE',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'PermitRootLogin no',
    'PermitEmptyPasswords no',
    // Certificates only: no key file in any home directory can let anyone in.
    'AuthorizedKeysFile none',
    `TrustedUserCAKeys ${paths.userCaPublicKey}`,
    `AuthorizedPrincipalsCommand ${literalPercent(`/usr/bin/find ${paths.principalsDir} -mindepth 1 -maxdepth 1 -type f -printf %f\\n`)}`,
    'AuthorizedPrincipalsCommandUser root',
    `AllowUsers ${options.user}`,
    // Probes of several scenarios arrive at once; the default (10 unauthenticated) would drop some.
    'MaxStartups 200',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    ...PROFILES.flatMap((profile) => {
      const directives = profileDirectives(profile, paths);
      return directives.length === 0 ? [] : [`Match LocalPort ${options.ports[profile]}`, ...directives.map((d) => `  ${d}`)];
    }),
  ];
  return `${lines.join('\n')}\n`;
}

/** What the session-limit script writes before it refuses or ends a session: what a probe recognises. */
export const SESSION_LIMIT_TAG = 'jitc-session-limit:';

/**
 * The session-limit script the hardened profiles force on every session (shell, command or
 * subsystem). It reads the certificate the login used (ExposeAuthInfo puts it in
 * $SSH_USER_AUTH), asks ssh-keygen for its valid-before, and runs the session under `timeout`
 * until then; after it, a session is refused. With `end-connection` it also ends the
 * connection (its parent, the connection's unprivileged sshd process, running as the user) when
 * it ends or refuses a session, so nothing multiplexed on it outlives the certificate either.
 * Anything it cannot read is refused: a login without a certificate end is not let through.
 */
export function sessionLimitScript(): string {
  return `#!/bin/sh
# Written by jitc: ends ssh sessions at the login certificate's valid-before.
mode=$1
say() { echo "${SESSION_LIMIT_TAG} $*" >&2; }
end_connection() {
  [ "$mode" = end-connection ] || return 0
  # After this script has exited: the session's end (its exit status) reaches the client through
  # the connection first, where nothing between could forge it; then the connection goes.
  [ "$(/usr/bin/cat /proc/$PPID/comm 2>/dev/null)" = sshd ] || return 0
  parent=$PPID
  ( /usr/bin/sleep 0.3; kill -TERM "$parent" ) </dev/null >/dev/null 2>&1 &
}
cert=$(/usr/bin/sed -n 's/^publickey \\([^ ]*-cert-v01@openssh\\.com [^ ]*\\).*$/\\1/p' "\${SSH_USER_AUTH:-/dev/null}" 2>/dev/null | /usr/bin/head -n 1)
if [ -z "$cert" ]; then say "refused: the login used no certificate"; exit 126; fi
until=$(printf '%s\\n' "$cert" | /usr/bin/ssh-keygen -L -f - 2>/dev/null | /usr/bin/sed -n 's/^[[:space:]]*Valid: .*\\(to\\|before\\) \\([0-9][0-9T:-]*\\)$/\\2/p')
if [ -z "$until" ]; then say "refused: the certificate states no valid-before"; exit 126; fi
# Milliseconds left: whole seconds would let a session run up to a second past valid-before.
left=$(( $(/usr/bin/date -d "$until" +%s) * 1000 - $(/usr/bin/date +%s%3N) ))
if [ "$left" -le 0 ]; then say "refused: the certificate expired at $until"; end_connection; exit 126; fi
limit="$((left / 1000)).$(printf %03d $((left % 1000)))"
if [ -n "$SSH_ORIGINAL_COMMAND" ]; then
  /usr/bin/timeout -k 1 "$limit" /bin/sh -c "$SSH_ORIGINAL_COMMAND"
else
  /usr/bin/timeout -k 1 "$limit" /bin/sh
fi
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then say "session ended: the certificate expired at $until"; end_connection; fi
exit "$status"
`;
}
