/** What every piece of bad input must produce: an InputError of one line naming file, field and problem. */
import { expect } from 'vitest';
import { InputError } from '../../scenarios/input.ts';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `message` is one line, `<where>: <field>…: <problem>` (the field may go on deeper: `suites.1`),
 * with no stack frame in it. `where` is the file as the user named it, or the flag.
 */
export function expectOneLine(message: string, where: string, field: string, what: string): void {
  const context = `${what}\n  got: ${message}`;
  expect(message.includes('\n'), context).toBe(false);
  expect(message, context).not.toMatch(/\bat .*:\d+:\d+/);
  const shape = field.endsWith('(') ? `^${escape(where)}: ${escape(field)}.+\\)$` : `^${escape(where)}: ${escape(field)}[^\\s:]*: \\S.*$`;
  expect(message, context).toMatch(new RegExp(shape));
}

/** Run `action`, which must fail with bad input; returns the message. */
export async function inputErrorOf(action: () => unknown, what: string): Promise<string> {
  try {
    await action();
  } catch (error) {
    expect(error, `${what}: ${String(error)}`).toBeInstanceOf(InputError);
    return (error as InputError).message;
  }
  return expect.unreachable(`accepted: ${what}`);
}
