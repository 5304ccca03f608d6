/**
 * The exec contract: each hook is a command the scenario names, run without a shell in the
 * scenario file's directory (a relative path in its command line is taken from there), with the allowlisted environment (hook-env.ts) and the request as JSON on
 * stdin. It must exit 0 and print one JSON object. Its stdout is parsed and then dropped; its
 * stderr is never read into anything but a byte count: either may hold secrets nobody registered.
 */
import { spawn } from 'node:child_process';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { z } from 'zod';
import { ANSWERS, describeRefusal, type HookName } from './answers.ts';
import { type EnvironmentSources, hookEnvironment } from './hook-env.ts';
import { type BrokerHooks, type GrantIds, HookFailure, type HookRequest, interruptFor } from './hooks.ts';

/** Past this, an answer is not the small JSON object the contract asks for. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface ExecHookSpec {
  request: string[];
  end: string[];
  renew?: string[];
  status?: string[];
  timeoutSeconds: number;
}

interface RunOptions {
  /** The directory the hook runs in. */
  cwd: string;
  env: Record<string, string>;
  stdin: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Run one command; resolves with its stdout when it exits 0, rejects with a HookFailure otherwise. */
export function runCommand(hook: HookName, argv: readonly string[], options: RunOptions): Promise<string> {
  const [command, ...args] = argv;
  const label = `${hook} hook (${command})`;
  if (!command) return Promise.reject(new HookFailure(`${label}: no command`));
  if (options.signal.aborted) return Promise.reject(new HookFailure(`${label} not run: the run was interrupted`));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // Its own process group: a timeout or Ctrl-C ends the hook and everything it started.
    // A path is the scenario directory's, said explicitly rather than left to how exec resolves it after chdir.
    const program = command.includes('/') && !isAbsolute(command) ? resolvePath(options.cwd, command) : command;
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderrBytes = 0;
    let failure: HookFailure | undefined;
    const kill = (why: HookFailure): void => {
      failure ??= why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => kill(new HookFailure(`${label} timed out after ${options.timeoutMs / 1000} s and was killed`)), options.timeoutMs);
    const onAbort = (): void => kill(new HookFailure(`${label} stopped: the run was interrupted`));
    options.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) kill(new HookFailure(`${label} printed more than ${MAX_ANSWER_BYTES / 1024} KiB: not one JSON answer`));
      else chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderrBytes += chunk.length;
    });
    // A hook that does not read its stdin must not fail the write.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
    child.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= new HookFailure(`${label} could not start: ${error.code ?? error.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      const stderrNote = stderrBytes > 0 ? `; its ${stderrBytes} bytes of stderr are not recorded` : '';
      if (code !== 0) return reject(new HookFailure(`${label} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} after ${Date.now() - started} ms${stderrNote}`));
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** One JSON object, validated against the hook's answer schema; a refusal never quotes the answer. */
export function parseAnswer<N extends HookName>(hook: N, label: string, text: string): z.infer<(typeof ANSWERS)[N]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HookFailure(`${label} answered something that is not JSON (${text.trim() === '' ? 'nothing' : `${Buffer.byteLength(text)} bytes`})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HookFailure(`${label} answered JSON that is not one object`);
  const parsed = ANSWERS[hook].safeParse(value);
  if (!parsed.success) throw new HookFailure(`${label} answered outside the contract: ${describeRefusal(parsed.error)}`);
  return parsed.data as z.infer<(typeof ANSWERS)[N]>;
}

/** The four hooks of one scenario, as commands. */
export function execHooks(spec: ExecHookSpec, sources: EnvironmentSources, signal: AbortSignal, cwd: string): BrokerHooks {
  const timeoutMs = spec.timeoutSeconds * 1000;
  const call = async <N extends HookName>(hook: N, argv: readonly string[], request: HookRequest, ids?: GrantIds, renewSeconds?: number): Promise<z.infer<(typeof ANSWERS)[N]>> => {
    const interrupt = interruptFor(hook, signal);
    const env = hookEnvironment(hook, request, ids, sources, renewSeconds);
    const stdin = JSON.stringify({ hook, ...request, ...(ids ?? {}), ...(renewSeconds === undefined ? {} : { renewSeconds }) });
    const out = await runCommand(hook, argv, { cwd, env, stdin, timeoutMs, signal: interrupt });
    return parseAnswer(hook, `${hook} hook (${argv[0]})`, out);
  };
  const { renew, status } = spec;
  return {
    describe: `exec ${spec.request.join(' ')}`,
    request: (request) => call('request', spec.request, request),
    end: (request, ids) => call('end', spec.end, request, ids),
    ...(renew ? { renew: (request: HookRequest, ids: GrantIds, seconds: number) => call('renew', renew, request, ids, seconds) } : {}),
    ...(status ? { status: (request: HookRequest, ids: GrantIds) => call('status', status, request, ids) } : {}),
  };
}
