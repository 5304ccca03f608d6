/**
 * The HTTP contract: the same exchange over an access-request API — submit, poll the approval
 * with a deadline, fetch the credential, end, renew. Authentication is a bearer token or a client
 * certificate, both read from environment variables the scenario names, never from the file.
 * Answers are read up to a cap, validated, and never recorded raw.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANSWERS, describeRefusal, type HookName, submittedSchema, statusAnswerSchema } from './answers.ts';
import { MAX_ANSWER_BYTES } from './exec-hooks.ts';
import { type BrokerHooks, type GrantIds, HookFailure, type HookRequest, interruptFor } from './hooks.ts';

export type HttpAuth = { bearerEnv: string } | { certEnv: string; keyEnv: string; caEnv?: string | undefined };

export interface HttpHookSpec {
  url: string;
  auth?: HttpAuth | undefined;
  renew: boolean;
  approvalTimeoutSeconds: number;
  timeoutSeconds: number;
}

/** How often the approval is polled. */
const POLL_MS = 500;

interface Transport {
  headers: Record<string, string>;
  tls: { cert?: Buffer; key?: Buffer; ca?: Buffer };
}

function variable(own: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = own[name];
  if (!value) throw new HookFailure(`the broker's ${what} is read from ${name}, which is not set`);
  return value;
}

function transport(auth: HttpAuth | undefined, own: NodeJS.ProcessEnv): Transport {
  if (!auth) return { headers: {}, tls: {} };
  if ('bearerEnv' in auth) return { headers: { authorization: `Bearer ${variable(own, auth.bearerEnv, 'bearer token')}` }, tls: {} };
  const file = (name: string, what: string): Buffer => {
    const path = variable(own, name, what);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new HookFailure(`the broker's ${what} file named by ${name} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return {
    headers: {},
    tls: { cert: file(auth.certEnv, 'client certificate'), key: file(auth.keyEnv, 'client key'), ...(auth.caEnv ? { ca: file(auth.caEnv, 'CA certificate') } : {}) },
  };
}

/** One call; the answer's JSON body when the status is 2xx. */
function call(method: 'GET' | 'POST', url: URL, body: unknown, t: Transport, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
  const label = `${method} ${url.pathname}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}), ...t.headers },
        ...t.tls,
        // A fresh connection for every call, as every probe gets: no answer rides on a kept one.
        agent: false,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new HookFailure(`${label} answered more than ${MAX_ANSWER_BYTES / 1024} KiB`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return reject(new HookFailure(`${label} answered HTTP ${status}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new HookFailure(`${label} answered HTTP ${status} with a body that is not JSON`));
          }
        });
        res.on('error', (error) => reject(error instanceof HookFailure ? error : new HookFailure(`${label}: ${error.message}`)));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof HookFailure) return reject(error);
      const why = error.name === 'TimeoutError' || error.name === 'AbortError' ? (signal.aborted ? 'the run was interrupted' : `no answer within ${timeoutMs / 1000} s`) : (error.code ?? error.message);
      reject(new HookFailure(`${label}: ${why}`));
    });
    req.end(payload);
  });
}

function validated<S extends z.ZodType>(schema: S, label: string, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HookFailure(`${label} answered outside the contract: ${describeRefusal(parsed.error)}`);
  return parsed.data;
}

export function httpHooks(spec: HttpHookSpec, own: NodeJS.ProcessEnv, signal: AbortSignal): BrokerHooks {
  const t = transport(spec.auth, own);
  const timeoutMs = spec.timeoutSeconds * 1000;
  const base = spec.url.endsWith('/') ? spec.url : `${spec.url}/`;
  const at = (path: string): URL => new URL(path, base);
  const answer = async <N extends HookName>(hook: N, method: 'GET' | 'POST', path: string, body?: unknown): Promise<z.infer<(typeof ANSWERS)[N]>> =>
    validated(ANSWERS[hook], `${method} /${path}`, await call(method, at(path), body, t, timeoutMs, interruptFor(hook, signal))) as z.infer<(typeof ANSWERS)[N]>;
  const requestPath = (ids: GrantIds): string => `requests/${encodeURIComponent(ids.requestId)}`;
  /** A request jitc stops waiting for is ended, so an approval that comes later grants nothing nobody ends. */
  const withdraw = async (requestId: string, why: string): Promise<never> => {
    const ended = await answer('end', 'POST', `${requestPath({ requestId, credentialId: '' })}/end`, {}).then(
      (a) => (a.ended ? 'jitc ended it' : 'jitc asked the broker to end it, and it answered that it did not'),
      (error: unknown) => `jitc could not end it (${error instanceof Error ? error.message : String(error)})`,
    );
    throw new HookFailure(`request ${requestId} ${why}; ${ended}`);
  };

  return {
    describe: `http ${spec.url}`,
    async request(request: HookRequest) {
      const uninterrupted = interruptFor('request', signal);
      const submitted = validated(submittedSchema, 'POST /requests', await call('POST', at('requests'), request, t, timeoutMs, uninterrupted));
      const path = `requests/${encodeURIComponent(submitted.requestId)}`;
      // The approval is the broker's (its auto-approval rules, or the test approver the scenario names); jitc only waits for it, with a deadline.
      const deadline = Date.now() + spec.approvalTimeoutSeconds * 1000;
      let state = submitted.state;
      while (state === 'pending') {
        if (Date.now() >= deadline) return withdraw(submitted.requestId, `was not approved within ${spec.approvalTimeoutSeconds} s`);
        await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) return withdraw(submitted.requestId, 'was awaiting approval when the run was interrupted');
        state = validated(statusAnswerSchema, `GET /${path}`, await call('GET', at(path), undefined, t, timeoutMs, uninterrupted)).state;
      }
      if (state !== 'approved' && state !== 'active') throw new HookFailure(`request ${submitted.requestId} ended ${state} instead of approved`);
      // Approved: the credential exists on the broker's side, so it is fetched even after an interrupt, for teardown to end.
      const issued = validated(ANSWERS.request, `GET /${path}/credential`, await call('GET', at(`${path}/credential`), undefined, t, timeoutMs, uninterrupted));
      if (issued.requestId !== submitted.requestId) throw new HookFailure(`GET /${path}/credential answered for request ${issued.requestId}, not ${submitted.requestId}`);
      return issued;
    },
    end: (_request, ids) => answer('end', 'POST', `${requestPath(ids)}/end`, {}),
    ...(spec.renew ? { renew: (_request: HookRequest, ids: GrantIds, seconds: number) => answer('renew', 'POST', `${requestPath(ids)}/renew`, { seconds, approver: null }) } : {}),
    status: (_request, ids) => answer('status', 'GET', requestPath(ids)),
  };
}
