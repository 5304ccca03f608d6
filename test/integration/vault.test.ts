/** Every Vault scenario and its broken twin against a real OpenBao dev server the test starts. */
import { describeConformance } from '../support/conformance.ts';

describeConformance('vault');
