/**
 * Every PostgreSQL scenario and its broken twin: logins from OpenBao's database engine (a real
 * OpenBao dev server) used at a real PostgreSQL cluster the test starts, both on 127.0.0.1.
 */
import { describeConformance } from '../support/conformance.ts';

describeConformance('postgres');
