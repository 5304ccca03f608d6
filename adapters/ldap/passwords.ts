/**
 * Passwords for the identities a scenario creates. They are random, registered as secrets by the
 * caller the moment they exist, and never sent in clear text where the directory could keep them:
 * `userPassword` gets a salted SHA-1 hash ({SSHA}, which slapd verifies on bind), because slapd's
 * accesslog records every attribute of an add, the password attribute included.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

export function sshaHash(password: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Active Directory takes a new password only as the UTF-16LE encoding of the quoted password (over TLS). */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}
