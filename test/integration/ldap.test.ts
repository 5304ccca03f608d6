/** Every directory scenario and its broken twin against a real OpenLDAP slapd the test starts. */
import { describeConformance } from '../support/conformance.ts';

describeConformance('ldap');
