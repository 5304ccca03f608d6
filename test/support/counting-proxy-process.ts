/**
 * A CountingHttpProxy in a process of its own. A benchmark of how many grants one harness process
 * holds must measure that process alone: relayed on its event loop, the proxy cost about as much
 * CPU as the requests it counted, and as a thread it would still count in the process's CPU time
 * and resident memory. Counts and answer times come back by message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CountingHttpProxy } from './counting-http-proxy.ts';

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
    /** `http://127.0.0.1:<port>`. */
    readonly url: string,
  ) {}

  static async start(target: string): Promise<CountingProxyProcess> {
    const child = fork(fileURLToPath(import.meta.url), [target], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const started = await new Promise<Started>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Started));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the counting proxy exited with ${code} before it listened`)));
    });
    return new CountingProxyProcess(child, started.url);
  }

  /** Requests relayed so far, and how long the target took to answer each, ms. */
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

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  const proxy = await new CountingHttpProxy(process.argv[2]!).start();
  process.on('message', () => process.send!({ requests: proxy.requests, answerMs: proxy.answerMs } satisfies Tally));
  // The harness going away takes its proxy with it.
  process.on('disconnect', () => process.exit(0));
  process.send({ url: proxy.url } satisfies Started);
}
