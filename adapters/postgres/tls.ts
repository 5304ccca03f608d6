/**
 * TLS for the harness's own cluster, made with the openssl CLI in the run's work directory at
 * start: a root CA of the target's own, the server's certificate signed by it (for 127.0.0.1), and
 * the root's own CRL, empty. The server trusts client certificates chaining to that root
 * (`ssl_ca_file`) and reads CRLs from a directory (`ssl_crl_dir`), files named by the hash of their
 * issuer's name (`<hash>.r0`), as OpenSSL looks them up.
 *
 * With a CRL directory PostgreSQL checks the whole chain (X509_V_FLAG_CRL_CHECK_ALL): every CA on
 * a client's chain needs a CRL there, the root's own included, or the certificate is refused. A
 * scenario's issuing CA is an intermediate the root signs, with a subject of its own, so its CRL
 * has its own file; the point of use keeps that file current (crl.ts).
 *
 * The root's key stays readable by jitc alone: the server never needs it, a grant source of the
 * local demo signs its intermediate with it (`JITC_PG_CA_KEY_FILE`).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServerUser } from './cluster.ts';

export const OPENSSL = '/usr/bin/openssl';

const run = promisify(execFile);

/** Where the target's TLS material lives, all inside the work directory. */
export interface LocalTls {
  dir: string;
  caCertFile: string;
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  crlDir: string;
}

/** Run openssl; a failure names the step and openssl's last words, never a key. */
export async function openssl(step: string, args: string[], options: { cwd?: string; input?: string } = {}): Promise<string> {
  try {
    const child = run(OPENSSL, args, { cwd: options.cwd, env: { PATH: process.env.PATH, LC_ALL: 'C' }, maxBuffer: 4 * 1024 * 1024 });
    if (options.input !== undefined) child.child.stdin?.end(options.input);
    return (await child).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`openssl could not ${step}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
}

/** `openssl crl -hash` output, old and new spelling: the 8 hex digits OpenSSL's directory lookup names a CRL file by. */
export function parseIssuerHash(output: string): string | undefined {
  return /^(?:issuer name hash=)?([0-9a-f]{8})$/m.exec(output)?.[1];
}

const randomSerial = (): string => `0x${randomBytes(8).toString('hex')}`;

/** The CA's part of an `openssl ca` configuration: enough for `-gencrl`, nothing is ever signed with it. */
function crlConfig(): string {
  return [
    '[ca]',
    'default_ca = root',
    '[root]',
    'database = index.txt',
    'crlnumber = crlnumber',
    'default_md = sha256',
    'default_crl_days = 30',
    'crl_extensions = crl_ext',
    '[crl_ext]',
    'authorityKeyIdentifier = keyid:always',
    '',
  ].join('\n');
}

/**
 * Make the root CA, the server certificate and the root's CRL under `<root>/tls`. The server key
 * goes to the server user (PostgreSQL refuses a key file others can read), the rest stays jitc's,
 * readable by the server where it must read it.
 */
export async function makeLocalTls(root: string, user: ServerUser | undefined): Promise<LocalTls> {
  const dir = join(root, 'tls');
  const tls: LocalTls = {
    dir,
    caCertFile: join(dir, 'root.crt'),
    caKeyFile: join(dir, 'root.key'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    crlDir: join(dir, 'crl'),
  };
  mkdirSync(tls.crlDir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl('make the local root CA', [
    'req', '-x509', ...ec, '-keyout', tls.caKeyFile, '-out', tls.caCertFile, '-days', '30', '-set_serial', randomSerial(),
    '-subj', `/O=jitc/CN=jitc local PostgreSQL root ${randomBytes(4).toString('hex')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(tls.caKeyFile, 0o600);

  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  await openssl('make the server key', ['req', '-new', ...ec, '-keyout', tls.serverKeyFile, '-out', csr, '-subj', '/O=jitc/CN=127.0.0.1']);
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  await openssl('sign the server certificate', [
    'x509', '-req', '-in', csr, '-CA', tls.caCertFile, '-CAkey', tls.caKeyFile, '-set_serial', randomSerial(), '-days', '30', '-extfile', ext, '-out', tls.serverCertFile,
  ]);
  rmSync(csr);
  rmSync(ext);
  chmodSync(tls.serverKeyFile, 0o600);
  if (user) chownSync(tls.serverKeyFile, user.uid, user.gid);

  // `openssl ca -gencrl` wants a database and a counter; they serve this one CRL and go.
  const work = join(dir, 'root-ca');
  mkdirSync(work, { mode: 0o700 });
  try {
    writeFileSync(join(work, 'ca.cnf'), crlConfig());
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'crlnumber'), '01\n');
    const crl = join(work, 'root.crl');
    await openssl('make the root CA\'s CRL', ['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', tls.caKeyFile, '-cert', tls.caCertFile, '-out', crl], { cwd: work });
    const hash = parseIssuerHash(await openssl("read the root CRL's issuer hash", ['crl', '-in', crl, '-noout', '-hash']));
    if (!hash) throw new Error("openssl did not state the root CRL's issuer hash");
    writeFileSync(join(tls.crlDir, `${hash}.r0`), await openssl('read the root CRL', ['crl', '-in', crl]), { mode: 0o644 });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tls;
}

/** The server settings that turn TLS on, trust the root for client certificates and read CRLs from the directory. */
export function tlsServerArgs(tls: LocalTls): string[] {
  const setting = (name: string, value: string): string[] => ['-c', `${name}=${value}`];
  return [
    ...setting('ssl', 'on'),
    ...setting('ssl_cert_file', tls.serverCertFile),
    ...setting('ssl_key_file', tls.serverKeyFile),
    ...setting('ssl_ca_file', tls.caCertFile),
    ...setting('ssl_crl_dir', tls.crlDir),
  ];
}
