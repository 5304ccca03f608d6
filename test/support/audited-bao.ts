/**
 * An OpenBao dev server started by a test itself, with a file audit device that logs raw values
 * (and, as the local target, the ldap secrets engine's plugin from the project's plugin directory).
 * Its audit log is the target's own record of every token, secret_id and wrapping token it issued:
 * the independent list of secrets that must not appear in jitc's output.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCommand } from '../../adapters/install.ts';
import { pluginDirectory } from '../../adapters/vault/targets.ts';
import { freePort, startLocalServer } from '../../adapters/local-process.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

export interface AuditedBao {
  address: string;
  rootToken: string;
  auditLog: string;
  pid: number;
  stop(): Promise<void>;
  /** Every secret value the server's audit log shows it handed out or received. */
  issuedSecrets(): string[];
}

/** Keys under which Vault carries secret values: tokens (wrapping ones included), secret_ids, and the passwords its engines issue. */
const SECRET_KEYS = new Set(['client_token', 'secret_id', 'token', 'password']);

function collect(value: unknown, into: Set<string>, key = ''): void {
  if (typeof value === 'string') {
    if (SECRET_KEYS.has(key) && value.length >= 16) into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, key);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, into, k);
}

export async function startAuditedBao(): Promise<AuditedBao> {
  const workDir = mkdtempSync(join(tmpdir(), 'jitc-audited-bao-'));
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const rootToken = randomBytes(18).toString('base64url');
  const auditLog = join(workDir, 'audit.log');
  const config = join(workDir, 'audit.hcl');
  writeFileSync(config, `audit "file" "raw" {\n  options {\n    file_path = "${auditLog}"\n    log_raw = "true"\n  }\n}\n`);
  const server = await startLocalServer({
    name: 'bao-audited',
    command: resolveCommand(PROJECT_ROOT, 'bao'),
    args: ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', `-config=${config}`, `-dev-plugin-dir=${pluginDirectory(PROJECT_ROOT)}`, '-log-level=warn'],
    env: { PATH: process.env.PATH, HOME: workDir, BAO_DEV_ROOT_TOKEN_ID: rootToken },
    workDir,
    projectRoot: PROJECT_ROOT,
    runId: `test${port}`,
    ready: async () => (await fetch(`${address}/v1/sys/health`)).ok,
  });
  return {
    address,
    rootToken,
    auditLog,
    pid: server.pid,
    stop: server.stop,
    issuedSecrets() {
      const found = new Set<string>([rootToken]);
      if (!existsSync(auditLog)) return [...found];
      for (const line of readFileSync(auditLog, 'utf8').split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { response?: unknown; request?: { data?: unknown } };
        collect(entry.response, found);
        collect(entry.request?.data, found);
      }
      return [...found];
    },
  };
}
