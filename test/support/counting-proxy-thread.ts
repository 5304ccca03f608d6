/**
 * A CountingHttpProxy on a thread of its own. A benchmark of how many grants one harness process
 * holds must not have that process's event loop relay every request as well: in the same thread,
 * the relay costs about as much CPU as the requests it counts, and the harness is measured slower
 * than it is. The count is shared memory, read without a message; answer times come by message.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CountingHttpProxy } from './counting-http-proxy.ts';

interface Started {
  url: string;
}

const ROLE = 'jitc-counting-proxy';

export class CountingProxyThread {
  readonly #count: Int32Array;

  private constructor(
    private readonly worker: Worker,
    count: SharedArrayBuffer,
    /** `http://127.0.0.1:<port>`. */
    readonly url: string,
  ) {
    this.#count = new Int32Array(count);
  }

  static async start(target: string): Promise<CountingProxyThread> {
    const count = new SharedArrayBuffer(4);
    // A worker's entry is not loaded through the parent's tsx hooks: it registers them itself, then loads this file.
    const entry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(entry, { eval: true, workerData: { role: ROLE, target, count } });
    const started = await new Promise<Started>((resolve, reject) => {
      worker.once('message', (m: Started) => resolve(m));
      worker.once('error', reject);
    });
    return new CountingProxyThread(worker, count, started.url);
  }

  /** Requests relayed so far. */
  get requests(): number {
    return Atomics.load(this.#count, 0);
  }

  /** How long the target took to answer each request so far, ms. */
  answerMs(): Promise<number[]> {
    return new Promise((resolve) => {
      this.worker.once('message', (m: number[]) => resolve(m));
      this.worker.postMessage('answers');
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const { target, count } = workerData as { target: string; count: SharedArrayBuffer };
  const counted = new Int32Array(count);
  const proxy = await new CountingHttpProxy(target, undefined, () => Atomics.add(counted, 0, 1)).start();
  parentPort!.on('message', () => parentPort!.postMessage(proxy.answerMs));
  parentPort!.postMessage({ url: proxy.url } satisfies Started);
}
