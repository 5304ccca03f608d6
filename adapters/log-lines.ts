/**
 * Reading a target's own log the way every audit trail here reads it: from the byte offset noted
 * when a scenario set up, only what was appended since, whole lines only (a line the server is
 * still writing waits for the next read). A log shorter than the offset was rotated or truncated,
 * and what was not read yet is gone from the file: that is an error, never an empty read.
 */
import { open, stat } from 'node:fs/promises';

/** One line of a log, with the byte offset it starts at: order, without trusting either clock. */
export interface LogLine {
  at: number;
  text: string;
}

/** Where the log ends now: a reader that starts here sees only what is written after. */
export async function logEnd(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** The whole lines appended to the log at `path` since byte `from`, and the offset after the last of them. `what` names the log in an error. */
export async function linesSince(path: string, from: number, what: string): Promise<{ lines: LogLine[]; end: number }> {
  const handle = await open(path, 'r');
  let appended: Buffer;
  try {
    const size = (await handle.stat()).size;
    if (size < from) throw new Error(`${what} ${path} shrank below the offset read so far (${size} < ${from} bytes): rotated or truncated`);
    appended = Buffer.alloc(size - from);
    let got = 0;
    while (got < appended.length) {
      const { bytesRead } = await handle.read(appended, got, appended.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    appended = appended.subarray(0, got);
  } finally {
    await handle.close();
  }
  const whole = appended.lastIndexOf(0x0a) + 1;
  const lines: LogLine[] = [];
  for (let start = 0; start < whole; ) {
    const newline = appended.indexOf(0x0a, start);
    // sshd -e ends its lines with CR LF.
    lines.push({ at: from + start, text: appended.toString('utf8', start, newline).replace(/\r$/, '') });
    start = newline + 1;
  }
  return { lines, end: from + whole };
}
