/**
 * Which of a scenario's connections the local sshd still serves, read on the server's side. A
 * session holds its connection; sshd serves each connection from a child process of its own
 * (`sshd: <user> [priv]`) holding the TCP socket. The scenario knows the client port of each
 * connection it opened — the server itself said so, in $SSH_CONNECTION — so only the children of
 * the harness's own sshd are looked at, and only their sockets whose peer is one of those ports:
 * never every process or every connection on the machine. The server's log adds what it recorded
 * at the login (the certificate's key id and serial) and how it last spoke of the connection.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { LocalFiles } from './client.ts';

export interface ServedConnection {
  clientPort: number;
  /** The sshd child serving it. */
  pid: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Socket inode → peer port, from a /proc/<pid>/net/tcp(6) table. */
export function peerPorts(table: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const remote = fields[2];
    const inode = fields[9];
    if (!remote || !inode) continue;
    map.set(inode, Number.parseInt(remote.split(':')[1] ?? '', 16));
  }
  return map;
}

/** The connections among `clientPorts` that sshd still serves. Throws when sshd itself cannot be read. */
export function servedConnections(local: LocalFiles, clientPorts: readonly number[]): ServedConnection[] {
  if (clientPorts.length === 0) return [];
  const listener = Number(read(local.pidFile)?.trim());
  const children = Number.isInteger(listener) && listener > 0 ? read(`/proc/${listener}/task/${listener}/children`) : undefined;
  if (children === undefined) throw new Error(`the local sshd (pid file ${local.pidFile}) is not running: its connections cannot be read`);
  const peers = new Map([...peerPorts(read(`/proc/${listener}/net/tcp`) ?? ''), ...peerPorts(read(`/proc/${listener}/net/tcp6`) ?? '')]);
  const wanted = new Set(clientPorts);
  const served: ServedConnection[] = [];
  for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the connection ended while it was being read
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const port = inode ? peers.get(inode) : undefined;
      if (port !== undefined && wanted.has(port) && !served.some((c) => c.pid === pid && c.clientPort === port)) served.push({ clientPort: port, pid });
    }
  }
  return served;
}

export interface LoginRecord {
  keyId: string;
  serial: string;
}

/** What sshd logged at the login from `clientPort`: the certificate's key id and serial. */
export function loginFromLog(log: string, clientPort: number): LoginRecord | undefined {
  const pattern = new RegExp(`^Accepted publickey for \\S+ from \\S+ port ${clientPort} ssh2: \\S+ \\S+ ID (.*) \\(serial (\\d+)\\) CA `);
  for (const line of log.split('\n').reverse()) {
    const match = pattern.exec(line);
    if (match) return { keyId: match[1]!, serial: match[2]! };
  }
  return undefined;
}

/** sshd's last line about the connection from `clientPort`, as it logged it. */
export function lastLogLine(log: string, clientPort: number): string | undefined {
  const mark = ` port ${clientPort}`;
  return log
    .split('\n')
    .reverse()
    .find((line) => line.includes(`${mark} `) || line.endsWith(mark));
}

/** sshd's log, its lines ended as text (`sshd -e` ends them with CR LF). */
export function readLog(local: LocalFiles): string {
  return (read(local.logFile) ?? '').replaceAll('\r\n', '\n');
}
