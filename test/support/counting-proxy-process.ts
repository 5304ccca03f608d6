/**
 * A counting relay in a process of its own: a CountingHttpProxy, or for a directory a
 * CountingRelay framing LDAP messages. A benchmark of how many grants one harness process holds
 * must measure that process alone: relayed on its event loop, the relay cost about as much CPU as
 * the requests it counted, and as a thread it would still count in the process's CPU time and
 * resident memory. Counts and answer times come back by message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CountingHttpProxy } from './counting-http-proxy.ts';
import { CountingRelay } from './counting-relay.ts';
import { LdapMessageCounter } from './ldap-messages.ts';

/** What the relay speaks: HTTP requests, or LDAP messages a client sends. */
export type RelayedProtocol = 'http' | 'ldap';

interface Started {
  url: string;
}

interface Tally {
  requests: number;
  answerMs: number[];
}

export class CountingProxyProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** `<scheme>://127.0.0.1:<port>`. */
    readonly url: string,
  ) {}

  /** `target`: the target's URL (`http://…` or `ldap://…`). */
  static async start(target: string, protocol: RelayedProtocol = 'http'): Promise<CountingProxyProcess> {
    const child = fork(fileURLToPath(import.meta.url), [target, protocol], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const started = await new Promise<Started>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Started));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the counting proxy exited with ${code} before it listened`)));
    });
    return new CountingProxyProcess(child, started.url);
  }

  /** Requests relayed so far, and how long the target took to answer each, ms (HTTP only; empty for LDAP). */
  tally(): Promise<Tally> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as Tally));
      this.child.send('tally');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // Stopped by the pid this process started, never by name.
    this.child.kill();
    await exited;
  }
}

async function relay(target: string, protocol: RelayedProtocol): Promise<{ url: string; tally: () => Tally }> {
  if (protocol === 'http') {
    const proxy = await new CountingHttpProxy(target).start();
    return { url: proxy.url, tally: () => ({ requests: proxy.requests, answerMs: proxy.answerMs }) };
  }
  const messages = new LdapMessageCounter();
  const ldap = await new CountingRelay(Number(new URL(target).port || 389), messages.tap).start();
  return { url: ldap.url, tally: () => ({ requests: messages.requests, answerMs: [] }) };
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = await relay(process.argv[2]!, process.argv[3] as RelayedProtocol);
  process.on('message', () => process.send!(started.tally() satisfies Tally));
  // The harness going away takes its relay with it.
  process.on('disconnect', () => process.exit(0));
  process.send({ url: started.url } satisfies Started);
}
