/**
 * The --sign-key option of `jitc run` and `jitc merge`. The key is read and checked while the
 * arguments are parsed, so a missing, encrypted or non-signing key is bad input (exit 2) before any
 * target is started, not a surprise at the end of a long run.
 */
import { InvalidArgumentError, Option } from 'commander';
import { loadSigningKey } from '../reports/ledger/signing.ts';
import { InputError } from '../scenarios/input.ts';

function checkedKeyFile(file: string): string {
  try {
    loadSigningKey(file);
  } catch (error) {
    if (error instanceof InputError) throw new InvalidArgumentError(error.message.replace(/^--sign-key: /, ''));
    throw error;
  }
  return file;
}

export function signKeyOption(): Option {
  return new Option('--sign-key <file>', 'sign manifest.json with this PEM private key (Ed25519, RSA or ECDSA): writes manifest.sig').argParser(checkedKeyFile);
}
