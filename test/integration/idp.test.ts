/**
 * The identity-provider scenarios and their broken twins against a real Keycloak the test starts
 * (one per file): tokens from a real token endpoint, verdicts from real introspection.
 */
import { describeConformance } from '../support/conformance.ts';

describeConformance('idp');
