import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../lib/store/index.js';
import { KEK_FILE } from '../../lib/keys/index.js';
import type { TestIdp } from './harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = path.join(ROOT, 'dist/scripts/tessera.js');

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `tessera` command line in a child process. */
export function tessera(args: string[], env: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const configDirs: string[] = [];
process.once('exit', () => {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

/** A YAML config file in a fresh directory, removed when the test process exits; returns its path (for TESSERA_CONFIG). */
export function writeConfig(yaml: string, name = 'tessera.yaml'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-config-'));
  configDirs.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/**
 * A consistent copy of a running IdP's data directory (database snapshot by
 * VACUUM INTO, plus the key-encryption key file) that a test may tamper with.
 */
export function copyDataDir(idp: TestIdp): string {
  const target = mkdtempSync(path.join(os.tmpdir(), 'tessera-copy-'));
  const source = new Database(path.join(idp.dataDir, DATABASE_FILE), { readonly: true });
  try {
    source.prepare('VACUUM INTO ?').run(path.join(target, DATABASE_FILE));
  } finally {
    source.close();
  }
  copyFileSync(path.join(idp.dataDir, KEK_FILE), path.join(target, KEK_FILE));
  return target;
}

/** Opens a database file directly, as an attacker with write access to the file would. */
export function openDirectly(dataDir: string): Database.Database {
  return new Database(path.join(dataDir, DATABASE_FILE));
}
