/**
 * Whether Keycloak holds an object named by its admin API path under `/admin/realms`: a realm
 * (`<realm>`) or an object in one (`<realm>/users/<id>`, `<realm>/clients/<id>`,
 * `<realm>/groups/<id>`, `<realm>/roles/<name>`, `<realm>/client-scopes/<id>`,
 * `<realm>/identity-provider/instances/<alias>`). One GET with the admin token. A 404 carrying
 * Keycloak's own JSON error ("User not found", "Realm not found.") alone is `gone`: the object, or
 * the realm holding it, is no more. A 404 without it comes from something in front of Keycloak, and
 * every other answer is `unknown`. Only these shapes are asked, so a 404 always names an object.
 */
import type { LookUpResult } from '../contract.ts';
import { errorText } from '../../scenarios/input.ts';
import { type IdpClient, IdpAnswerError } from './client.ts';

/**
 * Names without `:`, `=` or `,` (encode them as `%3A`…): an ARN or a DN meant for another target
 * would otherwise read as a realm name, and a realm Keycloak does not hold as gone.
 */
const SEGMENT = '[A-Za-z0-9_.@%~-]+';
const ADMIN_PATH = new RegExp(`^/?(?:admin/realms/)?(${SEGMENT}(?:/(?:users|clients|groups|roles|client-scopes)/${SEGMENT}|/identity-provider/instances/${SEGMENT})?)$`);

export async function lookUpIdp(client: IdpClient, ref: string): Promise<LookUpResult> {
  const path = ADMIN_PATH.exec(ref)?.[1];
  if (!path || path.split('/').some((segment) => segment === '.' || segment === '..')) {
    return { state: 'unknown', detail: `${ref} is not a Keycloak admin path (<realm>, or <realm>/users|clients|groups|roles|client-scopes/<id>)` };
  }
  try {
    await client.admin.call('GET', `/${path}`);
    return { state: 'present', detail: `GET /admin/realms/${path}: 200` };
  } catch (error) {
    if (!(error instanceof IdpAnswerError)) return { state: 'unknown', detail: `GET /admin/realms/${path}: no answer: ${errorText(error)}` };
    if (error.status === 404 && error.error !== undefined) return { state: 'gone', detail: `GET /admin/realms/${path}: HTTP 404 ${error.error}` };
    return { state: 'unknown', detail: error.message };
  }
}
