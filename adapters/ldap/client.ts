/**
 * The directory client a scenario works with: one admin connection (the broker's), kept bound,
 * plus short-lived connections for the identities under test. ldapts reconnects on its own after
 * a dropped socket, but anonymously; an admin read made anonymously would see an empty directory
 * and pass a residue check on nothing, so the admin connection is re-bound before every use.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Attribute, Change, Client, type SearchOptions, type SearchResult } from 'ldapts';
import type { TargetConnection } from '../contract.ts';
import { type DirectoryLayout, type LdapSettings, settingsSchema, settingsToLayout } from './layout.ts';

export interface LdapClient {
  settings: LdapSettings;
  layout: DirectoryLayout;
  admin: AdminConnection;
  /**
   * A fresh, unbound connection: to the target, or to `url` (one node of the target, for a probe
   * that must reach that node). Never pooled, so every probe gets its own balancing decision.
   */
  open(url?: string): Client;
  /** A fresh connection bound as the broker, to the target or to `url`; the caller unbinds it. */
  openBroker(url?: string): Promise<Client>;
}

export function tlsOptions(s: LdapSettings): ConnectionOptions | undefined {
  if (!s.tlsCaFile && !s.tlsCertFile && !s.tlsKeyFile) return undefined;
  const options: ConnectionOptions = {};
  if (s.tlsCaFile) options.ca = readFileSync(s.tlsCaFile);
  if (s.tlsCertFile) options.cert = readFileSync(s.tlsCertFile);
  if (s.tlsKeyFile) options.key = readFileSync(s.tlsKeyFile);
  return options;
}

export function openConnection(s: LdapSettings): Client {
  const timeout = Number(s.timeoutMs);
  const tls = tlsOptions(s);
  return new Client({ url: s.url, timeout, connectTimeout: timeout, ...(tls ? { tlsOptions: tls } : {}) });
}

/** Bind as the broker: a DN and password, or SASL (EXTERNAL uses the TLS client certificate). */
export async function bindBroker(client: Client, s: LdapSettings): Promise<void> {
  if (s.startTls === 'true') await client.startTLS(tlsOptions(s) ?? {});
  if (s.saslMechanism) await client.bindSASL(s.saslMechanism, s.password || undefined);
  else await client.bind(s.bindDn, s.password);
}

export class AdminConnection {
  #client: Client | undefined;
  #binding: Promise<Client> | undefined;

  constructor(private readonly settings: LdapSettings) {}

  async #bound(): Promise<Client> {
    if (this.#client?.isConnected) return this.#client;
    this.#binding ??= (async () => {
      const client = openConnection(this.settings);
      await bindBroker(client, this.settings);
      this.#client = client;
      return client;
    })().finally(() => {
      this.#binding = undefined;
    });
    return this.#binding;
  }

  async use<T>(action: (client: Client) => Promise<T>): Promise<T> {
    return action(await this.#bound());
  }

  search(base: string, options: SearchOptions): Promise<SearchResult> {
    return this.use((c) => c.search(base, options));
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client?.isConnected) await client.unbind().catch(() => undefined);
  }
}

export function connectLdap(connection: TargetConnection): LdapClient {
  const parsed = settingsSchema.safeParse(connection.settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`ldap connection settings: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const settings = parsed.data;
  const at = (url: string | undefined): LdapSettings => (url ? { ...settings, url } : settings);
  return {
    settings,
    layout: settingsToLayout(settings),
    admin: new AdminConnection(settings),
    open: (url) => openConnection(at(url)),
    openBroker: async (url) => {
      const client = openConnection(at(url));
      try {
        await bindBroker(client, at(url));
        return client;
      } catch (error) {
        await client.unbind().catch(() => undefined);
        throw error;
      }
    },
  };
}

/** First RDN value of a DN: `cn=jitc-x-requester,ou=…` → `jitc-x-requester`. */
export function rdnValue(dn: string): string {
  const m = /^[^=]+=((?:\\.|[^,])+)/.exec(dn);
  return m?.[1] ?? dn;
}

/**
 * The name of something a scenario creates: `<prefix>.<role>`. The dot cannot occur in a scenario
 * id, so `jitc-r-x.svc` never matches the prefix of scenario `x-twin` (`jitc-r-x-twin.svc`).
 */
export function scenarioName(prefix: string, role: string): string {
  return `${prefix}.${role}`;
}

/** Does this DN name something created under exactly this scenario prefix? */
export function carriesPrefix(dn: string, prefix: string): boolean {
  const value = rdnValue(dn).toLowerCase();
  const p = prefix.toLowerCase();
  return value === p || value.startsWith(`${p}.`);
}

/** RFC 4515 escaping of a value placed in a search filter. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** RFC 4514 escaping of a value placed in an RDN. */
export function escapeRdnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|\s$/g, (c) => `\\${c}`);
}

/** Values of an attribute as strings, whatever shape ldapts returned. */
export function values(entry: Record<string, unknown> | undefined, attribute: string): string[] {
  if (!entry) return [];
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? undefined : entry[key];
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

export async function addMember(client: LdapClient, group: string, member: string): Promise<void> {
  await client.admin.use((c) => c.modify(group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [member] }) })));
}

export async function removeMember(client: LdapClient, group: string, member: string): Promise<void> {
  await client.admin.use((c) => c.modify(group, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [member] }) })));
}
