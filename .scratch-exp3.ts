import { Client } from 'ldapts';
const url = 'ldap://127.0.0.1:38999';
const B = 'dc=jitc,dc=test';
const admin = new Client({ url });
await admin.bind(`cn=admin,${B}`, 'secretpw');
const refresh = async (dn: string, ttl: number) => {
  const dnb = Buffer.from(dn);
  const inner = Buffer.concat([Buffer.from([0x80, dnb.length]), dnb, Buffer.from([0x81, 1, ttl])]);
  await admin.exop('1.3.6.1.4.1.1466.101.119.1', Buffer.concat([Buffer.from([0x30, inner.length]), inner]));
};
const n = Number(process.argv[2] ?? 4);
const tag = process.argv[3] ?? 'x';
for (let i = 0; i < n; i++) {
  const dn = `cn=${tag}${i},ou=accounts,${B}`;
  await admin.add(dn, { objectClass: ['applicationProcess', 'dynamicObject'], cn: `${tag}${i}` });
  await refresh(dn, 2 + (i % 2));
}
await new Promise((r) => setTimeout(r, 6000));
const left = await admin.search(`ou=accounts,${B}`, { filter: `(cn=${tag}*)`, attributes: ['cn'] });
const log = await admin.search('cn=accesslog', { filter: `(&(reqType=delete)(reqDN=*))`, attributes: ['reqDN', 'reqStart'] });
console.log('left', left.searchEntries.length, 'deletes logged', log.searchEntries.filter((e) => String(e.reqDN).startsWith(`cn=${tag}`)).map((e) => `${e.reqStart} ${e.reqDN}`));
await admin.unbind();
