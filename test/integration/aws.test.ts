/**
 * Every AWS scenario and its broken twin against a real moto_server the test starts, with moto's IAM
 * enforcement on. moto never expires an assumed-role session (it looks session keys up without
 * reading their Expiration), so the expiry scenario is reported fail there, as it must be.
 */
import { describeConformance } from '../support/conformance.ts';

describeConformance('aws', {
  expected: {
    'sts-assume-role-expiry': {
      verdict: 'fail',
      failedChecks: ['reuse-denied', 'credential-invalidated'],
      because: 'moto does not check the expiry of assumed-role keys',
    },
  },
});
