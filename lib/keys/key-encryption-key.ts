import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { TesseraError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export const KEK_FILE = 'master.key';

/**
 * The 256-bit key that seals every private key at rest. It comes from
 * TESSERA_MASTER_KEY (base64 or hex) when set; otherwise from a file in the data
 * directory, generated on first start, which is only as safe as that directory.
 */
export function loadKeyEncryptionKey(options: {
  masterKey: string | undefined;
  dataDir: string;
  logger: Logger;
}): Buffer {
  if (options.masterKey !== undefined) return decodeMasterKey(options.masterKey, 'TESSERA_MASTER_KEY');

  const file = path.join(options.dataDir, KEK_FILE);
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    options.logger.warn('kek.generated', {
      file,
      message:
        'TESSERA_MASTER_KEY is not set: generated a key-encryption key in the data directory. ' +
        'Anyone who can read this file and the database can unseal the IdP signing key. ' +
        'Set TESSERA_MASTER_KEY from a secret store in production.',
    });
  } else {
    options.logger.warn('kek.from_file', {
      file,
      message: 'TESSERA_MASTER_KEY is not set: private keys are sealed with a key file kept beside the database.',
    });
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new TesseraError('config_invalid', `${file} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`);
  }
  return decodeMasterKey(readFileSync(file, 'utf8').trim(), file);
}

function decodeMasterKey(raw: string, source: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(raw) && key.toString('base64') !== raw.replace(/\s/g, ''))) {
    throw new TesseraError('config_invalid', `${source} must be 32 random bytes, as 64 hex digits or base64`);
  }
  return key;
}

/**
 * The key-encryption key for tools that only read (`tessera audit verify`): never
 * creates a key file, so a missing key is an error rather than a new, useless key.
 */
export function readKeyEncryptionKey(options: { masterKey: string | undefined; dataDir: string }): Buffer {
  if (options.masterKey !== undefined) return decodeMasterKey(options.masterKey, 'TESSERA_MASTER_KEY');
  const file = path.join(options.dataDir, KEK_FILE);
  if (!existsSync(file)) {
    throw new TesseraError('config_invalid', `no key-encryption key: set TESSERA_MASTER_KEY or provide ${file}`);
  }
  return decodeMasterKey(readFileSync(file, 'utf8').trim(), file);
}
