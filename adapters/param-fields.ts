/**
 * Fields scenario params share across adapters, validated the same way everywhere: a value that is
 * not what the field names (a CHANGE-ME left by `jitc discover`, a secret where a variable's name
 * belongs) is refused when the scenario is loaded.
 */
import { z } from 'zod';

/** The name of an environment variable that holds a secret; never the secret itself. */
export const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable (letters, digits, _), never the secret itself');

/** An LDAP distinguished name: attribute=value pairs, comma-separated. */
export const distinguishedName = z.string().regex(/^[^=,]+=[^,]+(,\s*[^=,]+=[^,]+)*$/, 'an LDAP DN such as cn=payroll,ou=groups,dc=example,dc=com');
