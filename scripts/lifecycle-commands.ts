import { once } from 'node:events';
import type { Config } from '../lib/config/index.js';
import { TesseraError } from '../lib/common/errors.js';
import { systemClock } from '../lib/common/clock.js';
import { silentLogger } from '../lib/common/log.js';
import type { Store } from '../lib/store/index.js';
import {
  certificateThumbprint,
  parseCertificate,
  publishNextSigningKey,
  readKeyEncryptionKey,
  signingKeysProvenByKek,
} from '../lib/keys/index.js';
import { chainedAuditLog, exportLine, verifyAuditChain, type AuditEvent } from '../lib/audit/index.js';

interface LifecycleFlags {
  readonly agent: string | undefined;
  readonly task: string | undefined;
  readonly since: string | undefined;
  readonly until: string | undefined;
}

type LifecycleCommand = (args: { positionals: string[]; flags: LifecycleFlags; config: Config }) => Promise<number>;
type WithStore = <T>(config: Config, work: (store: Store) => Promise<T>) => Promise<T>;

/** `keys rotate`, `audit verify`, `audit export`: each works on the data directory directly. */
export function lifecycleCommands(withStore: WithStore): Record<string, LifecycleCommand> {
  return {
    'keys rotate': async ({ config }) => {
      const kek = readKeyEncryptionKey({ masterKey: config.masterKey, dataDir: config.dataDir });
      const now = systemClock.now();
      const published = await withStore(config, async (store) => {
        const result = await publishNextSigningKey({ keys: store.keys, kek, now, overlapSeconds: config.keys.rolloverOverlapSeconds });
        if (result.created) {
          await recordDecision(store, {
            event: 'key.rotated',
            actor: 'admin',
            details: { keyId: result.key.id, activatesAt: result.key.activatesAt?.toISOString(), schedule: 'command' },
          });
        }
        return result;
      });
      const activatesAt = published.key.activatesAt?.toISOString() ?? 'unknown';
      if (!published.created) {
        throw new TesseraError('conflict', `a next signing key (${published.key.id}) is already published; it becomes the signing key at ${activatesAt}`);
      }
      const thumbprint = certificateThumbprint(parseCertificate(published.key.certificatePem));
      process.stdout.write(`published next signing key ${published.key.id} (certificate SHA-256 ${thumbprint})\n`);
      process.stderr.write(
        `metadata now lists it beside the current key; the IdP signs with it from ${activatesAt}, ` +
          `and the current key leaves the metadata ${config.keys.retireAfterSeconds} s after that\n`,
      );
      return 0;
    },

    'audit verify': async ({ config }) => {
      const kek = readKeyEncryptionKey({ masterKey: config.masterKey, dataDir: config.dataDir });
      const result = await withStore(config, async (store) => {
        // Checkpoints first: entries read after them are a superset of what they cover, even while the IdP appends.
        const checkpoints = await store.audit.checkpointsRaw();
        const trusted = signingKeysProvenByKek(await store.keys.list('saml-signing'), kek);
        return verifyAuditChain(store.audit.scanRaw(), checkpoints, trusted);
      });
      if (!result.intact) {
        throw new TesseraError('audit_chain_broken', `audit log broken at sequence ${result.firstBadSeq}: ${result.reason}`);
      }
      process.stdout.write(
        `audit log intact: ${result.entries} entries, head ${result.headHash}, ${result.checkpoints} signed checkpoints\n`,
      );
      if (result.uncheckpointed > 0) {
        process.stderr.write(`note: the last ${result.uncheckpointed} entries are not yet covered by a signed checkpoint\n`);
      }
      return 0;
    },

    'audit export': async ({ config, flags }) => {
      const filter = {
        agent: flags.agent,
        taskId: flags.task,
        since: parseTime(flags.since, '--since'),
        until: parseTime(flags.until, '--until'),
      };
      await withStore(config, async (store) => {
        for await (const entry of store.audit.query(filter)) {
          if (!process.stdout.write(exportLine(entry) + '\n')) await once(process.stdout, 'drain');
        }
      });
      return 0;
    },
  };
}

/** The command line's own decisions go into the same chain as the server's. */
async function recordDecision(store: Store, event: AuditEvent): Promise<void> {
  await chainedAuditLog({ store: store.audit, clock: systemClock, logger: silentLogger }).record(event);
}

function parseTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new TesseraError('invalid_value', `${flag} must be an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z`);
  return at;
}
