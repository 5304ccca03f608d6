/**
 * The one exchange jitc has with a user's broker, whatever carries it (a command, an HTTP API):
 * ask for a grant, end it, ask to renew it without approval, ask its state. the README's "Testing your own broker" is
 * the contract a broker is written to.
 */
import type { CredentialKind, EndAnswer, HookName, RenewAnswer, RequestAnswer, StatusAnswer } from './answers.ts';

/** What jitc asks the broker for: the exec hook's environment and stdin, the HTTP request body. */
export interface HookRequest {
  taskId: string;
  runId: string;
  /** Everything the broker creates for the task is named with it, so `jitc cleanup` can sweep it. */
  prefix: string;
  windowSeconds: number;
  /** Empty for a renewal: no new approval was given. */
  approver: string;
  scope: string[];
  resource: string;
  terms: Record<string, string>;
  /** The requester's public identity (accessor, DN, access key id), when the point of use made one. */
  requester: string | null;
  credentialType: CredentialKind;
}

/** How the broker and jitc name one grant after it was issued. */
export interface GrantIds {
  requestId: string;
  /** The credential's public id: accessor, access key id, DN. */
  credentialId: string;
}

export interface BrokerHooks {
  /** "exec ./bin/access-bot", "http https://access.example/api": for evidence. */
  describe: string;
  request(request: HookRequest): Promise<RequestAnswer>;
  end(request: HookRequest, ids: GrantIds): Promise<EndAnswer>;
  /** Absent: the broker offers no renewal to test. */
  renew?(request: HookRequest, ids: GrantIds, seconds: number): Promise<RenewAnswer>;
  status?(request: HookRequest, ids: GrantIds): Promise<StatusAnswer>;
}

/**
 * A hook that did not answer as the contract says: it timed out, exited non-zero, printed no JSON,
 * or its answer failed validation. The message says what was wrong and never quotes the answer.
 */
export class HookFailure extends Error {
  override name = 'HookFailure';
}

/** A signal that never fires: what a hook an interrupt must not stop is given. */
const UNINTERRUPTED = new AbortController().signal;

/**
 * What an interrupt may stop of one hook. A request under way runs to its answer (its timeout
 * still bounds it): the broker may already have granted, and only the answer lets teardown end
 * that grant. An end runs in teardown, after the interrupt, by design. A renewal or status query
 * holds nothing jitc must undo, so an interrupt stops it at once. A request not yet started is
 * never started once the run is interrupted.
 */
export function interruptFor(hook: HookName, signal: AbortSignal): AbortSignal {
  if (hook === 'request' && signal.aborted) throw new HookFailure('the request was not sent: the run was interrupted');
  return hook === 'request' || hook === 'end' ? UNINTERRUPTED : signal;
}
