/**
 * What counts as a directory refusing a credential from another source address: its refusal of
 * the read alone. A refused bind says the credential is gone, not that the address was refused:
 * unknown. (PostgreSQL's side is in postgres-probes.test.ts.)
 */
import { Client, InvalidCredentialsError } from 'ldapts';
import { describe, expect, test } from 'vitest';
import { bindAndRead } from '../../adapters/ldap/probes.ts';

describe('a directory bind and read from another address', () => {
  /** A client whose bind the directory refuses with invalidCredentials. */
  const refusingBind = (): Client => {
    const client = new Client({ url: 'ldap://127.0.0.1:9' });
    client.bind = async () => {
      throw new InvalidCredentialsError();
    };
    return client;
  };
  const target = { dn: 'cn=protected,dc=x', attribute: 'description' };

  test('a refused bind is unknown there, while it stays a denial for an ordinary probe', async () => {
    expect(await bindAndRead(refusingBind, 'cn=a,dc=x', 'p', target, undefined, 'unknown')).toMatchObject({ outcome: 'unknown', detail: 'bind refused: invalidCredentials (49): not a refusal of the address' });
    expect((await bindAndRead(refusingBind, 'cn=a,dc=x', 'p', target)).outcome).toBe('denied');
  });
});
