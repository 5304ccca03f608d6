/**
 * Reading AWS's answers as tri-state probes. `denied` comes only from the AWS error code that the
 * SDK reads from the body of AWS's own error document (`<Error><Code>…</Code></Error>`), with a
 * 4xx status, and only for these codes:
 *  - ExpiredToken / ExpiredTokenException: the session credential is past its expiry;
 *  - InvalidClientTokenId (IAM, STS) and InvalidAccessKeyId (S3's word for the same thing): the
 *    target does not know the access key id (a deleted key);
 *  - AccessDenied / AccessDeniedException: the request was authenticated and refused by policy.
 * A bare HTTP 403 without that document — a proxy, a gateway, a WAF page, an empty body, even one
 * whose text or headers say "AccessDenied" — carries no AWS code (the SDK names it Unknown) and is
 * `unknown`. So are network errors, timeouts, throttling, 5xx, and SignatureDoesNotMatch too — it
 * says the request was signed with the wrong secret, which a harness bug produces as readily as a
 * revoked credential, so it proves nothing about revocation. The holder's extension attempts
 * (extension/) read a refusal by the same rule.
 */
import type { ProbeResult } from '../contract.ts';
import { probeWith } from '../probe-shell.ts';

export const DENIAL_CODES: ReadonlySet<string> = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'InvalidAccessKeyId',
  'AccessDenied',
  'AccessDeniedException',
]);

/** What went wrong with an SDK call, as data: the AWS error code and HTTP status, or a network error. */
export interface AwsFailure {
  /** AWS error code ("AccessDenied"), or the network error code ("ECONNREFUSED"), or the error name. */
  code: string;
  /** HTTP status of AWS's answer; undefined when no answer came. */
  status: number | undefined;
  message: string;
}

interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown };
}

export function describeAwsError(error: unknown): AwsFailure {
  if (typeof error !== 'object' || error === null) return { code: 'Error', status: undefined, message: String(error) };
  const e = error as SdkErrorShape;
  const statusValue = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const status = typeof statusValue === 'number' ? statusValue : undefined;
  // Service errors carry the AWS code as `name` (and S3's as `Code`); network errors a Node `code`.
  const code = [e.Code, status === undefined ? e.code : undefined, e.name, e.code].find((v): v is string => typeof v === 'string' && v !== '' && v !== 'Error') ?? 'Error';
  const message = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : '';
  return { code, status, message };
}

/** One line for evidence: "HTTP 403 AccessDenied: Access Denied", "no answer: ECONNREFUSED". Never a secret. */
export function failureText(failure: AwsFailure): string {
  const text = failure.message && failure.message !== failure.code ? `${failure.code}: ${failure.message}` : failure.code;
  return failure.status === undefined ? `no answer: ${text}` : `HTTP ${failure.status} ${text}`;
}

/** Classify a failed call. `gone` adds codes that mean "this credential is gone" for one lookup (e.g. NoSuchEntity). */
export function classifyFailure(failure: AwsFailure, gone: readonly string[] = []): 'denied' | 'unknown' {
  if (failure.status === undefined || failure.status < 400 || failure.status >= 500) return 'unknown';
  if (DENIAL_CODES.has(failure.code) || gone.includes(failure.code)) return 'denied';
  return 'unknown';
}

export function probe(action: () => Promise<string | void>, gone: readonly string[] = []): Promise<ProbeResult> {
  return probeWith(action, (error) => {
    const failure = describeAwsError(error);
    const outcome = classifyFailure(failure, gone);
    return { outcome, detail: outcome === 'unknown' && failure.status !== undefined ? `unrecognised answer: ${failureText(failure)}` : failureText(failure) };
  });
}

