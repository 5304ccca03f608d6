/** Run ids for the project's tests: short, unique, and recognisable as a test run in cleanup output. */
import { randomBytes } from 'node:crypto';

export function testRunId(): string {
  return `t${randomBytes(3).toString('hex')}`;
}
