/**
 * Login passwords as PostgreSQL stores them: a SCRAM-SHA-256 verifier (RFC 5802, RFC 7677),
 * computed here so CREATE ROLE never carries the password itself — not over the wire, and not in
 * the server's log when a statement fails and is logged with its text.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

const ITERATIONS = 4096;

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, the form PostgreSQL takes as an
 * already hashed password. The password is used as given, without SASLprep: the harness's
 * passwords are base64url, which SASLprep leaves unchanged.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A random login password, URL-safe so it needs no quoting anywhere. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}
