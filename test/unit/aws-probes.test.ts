/**
 * How the AWS probes read SDK errors: only AWS's specific refusals, with a 4xx status, are
 * `denied`; a bad signature, throttling, a 5xx, a timeout or no answer at all is `unknown`.
 * The errors are built with the SDK's own exception classes, as the clients throw them.
 */
import { NoSuchEntityException } from '@aws-sdk/client-iam';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { ExpiredTokenException, STSServiceException } from '@aws-sdk/client-sts';
import { describe, expect, test } from 'vitest';
import { classifyFailure, describeAwsError, probe } from '../../adapters/aws/probes.ts';
import type { ProbeResult } from '../../adapters/contract.ts';

const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: 'req-1', attempts: 1, totalRetryDelay: 0 });

function s3Error(name: string, status: number, message = name): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: meta(status), message });
}

function stsError(name: string, status: number, message = name): STSServiceException {
  return new STSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: meta(status), message });
}

const networkError = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code, $metadata: { attempts: 1, totalRetryDelay: 0 } });

async function outcomeOf(error: unknown): Promise<ProbeResult> {
  return probe(() => Promise.reject(error));
}

describe('AWS answers read as denials', () => {
  test.each([
    ['an expired session (STS ExpiredTokenException)', new ExpiredTokenException({ $metadata: meta(400), message: 'The security token included in the request is expired' })],
    ['an expired session (S3 ExpiredToken)', s3Error('ExpiredToken', 400, 'The provided token has expired.')],
    ['an unknown access key id (IAM/STS InvalidClientTokenId)', stsError('InvalidClientTokenId', 403, 'The security token included in the request is invalid.')],
    ['an unknown access key id (S3 InvalidAccessKeyId)', s3Error('InvalidAccessKeyId', 403)],
    ['a policy refusal (AccessDenied)', s3Error('AccessDenied', 403, 'Access Denied')],
    ['a policy refusal (AccessDeniedException)', stsError('AccessDeniedException', 403)],
  ])('%s is denied', async (_what, error) => {
    const result = await outcomeOf(error);
    expect(result.outcome).toBe('denied');
    expect(result.detail).toMatch(/^HTTP 4\d\d /);
  });
});

describe('everything else is unknown, never denied', () => {
  test.each([
    ['a wrong signature (SignatureDoesNotMatch): as likely a harness bug as a revoked key', s3Error('SignatureDoesNotMatch', 403)],
    ['a malformed session token (S3 InvalidToken)', s3Error('InvalidToken', 400)],
    ['throttling', stsError('Throttling', 400, 'Rate exceeded')],
    ['a server error', s3Error('InternalError', 500, 'We encountered an internal error')],
    ['an unavailable service', stsError('ServiceUnavailable', 503)],
    ['a denial code with a 5xx status', s3Error('AccessDenied', 500)],
    ['a refused connection', networkError('ECONNREFUSED')],
    ['a reset connection', networkError('ECONNRESET')],
    ['a timeout', Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' })],
    ['a missing credential', Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })],
    ['a thrown string', 'boom'],
  ])('%s', async (_what, error) => {
    expect((await outcomeOf(error)).outcome).toBe('unknown');
  });

  test('a lookup-specific "gone" answer counts as denied only where the probe names it', () => {
    const failure = describeAwsError(new NoSuchEntityException({ $metadata: meta(404), message: 'The user with name x cannot be found.' }));
    expect(failure).toMatchObject({ code: 'NoSuchEntityException', status: 404 });
    expect(classifyFailure(failure)).toBe('unknown');
    expect(classifyFailure(failure, ['NoSuchEntityException'])).toBe('denied');
  });
});

describe('what a probe records', () => {
  test('a network error says no answer came, with the error code', async () => {
    const result = await outcomeOf(networkError('ECONNREFUSED'));
    expect(result.detail).toBe('no answer: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9');
  });

  test('an unrecognised AWS answer says so, with status and code', async () => {
    const result = await outcomeOf(s3Error('SignatureDoesNotMatch', 403, 'The request signature we calculated does not match'));
    expect(result.detail).toBe('unrecognised answer: HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match');
  });

  test('a success is allowed, with what the action reported', async () => {
    const result = await probe(async () => 'GetObject: HTTP 200');
    expect(result).toMatchObject({ outcome: 'allowed', detail: 'GetObject: HTTP 200' });
  });
});
