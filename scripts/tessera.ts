#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../lib/config/index.js';
import { TesseraError, errorMessage } from '../lib/common/errors.js';
import { systemClock } from '../lib/common/clock.js';
import { openSqliteStore, type Store } from '../lib/store/index.js';
import cluster from 'node:cluster';
import { startIdp } from '../lib/idp.js';
import { DRAIN_GRACE_MS, LOG_FLUSH_GRACE_MS, startPrimary, startWorker } from '../lib/cluster.js';
import { createLogger, exitAfterFlush } from '../lib/common/log.js';
import { parseSpMetadata } from '../lib/saml/index.js';
import { generateOrchestratorToken, hashOrchestratorToken } from '../lib/tokens/index.js';
import { lifecycleCommands } from './lifecycle-commands.js';
import { approvalCommands } from './approval-commands.js';

const USAGE = `usage: tessera <command> [--data-dir DIR]
  start                                         run the IdP (HTTPS) on its configured address
  sp register FILE.xml [--replace] [--no-sign-response]
                                                register an SP from its SAML metadata
  sp list                                       list registered SPs
  sp remove ENTITYID                            remove an SP
  token create NAME                             create an orchestrator bearer token (printed once)
  token revoke NAME                             revoke an orchestrator token
  keys rotate                                   publish the next SAML signing key beside the current one
  audit verify                                  check the hash chain and its signed checkpoints
  audit export [--agent ID|NAME] [--task ID] [--since TIME] [--until TIME]
                                                write audit entries as JSON Lines
  approvals list [all]                          list pending step-up approval requests (all: every request)
  approvals approve ID | approvals deny ID      decide a step-up: an approval lets the agent's next sign-on through`;

type Command = (args: { positionals: string[]; flags: Flags; config: Config }) => Promise<number>;
interface Flags {
  replace: boolean;
  signResponse: boolean;
  agent: string | undefined;
  task: string | undefined;
  since: string | undefined;
  until: string | undefined;
}

/** An admin command works on the data directory directly; the store is closed whatever happens. */
async function withStore<T>(config: Config, work: (store: Store) => Promise<T>): Promise<T> {
  const store = openSqliteStore(config.dataDir);
  try {
    return await work(store);
  } finally {
    store.close();
  }
}

const commands: Record<string, Command> = {
  start: async ({ config }) => {
    // A cluster worker re-runs this command: it serves HTTP and leaves signals to lib/cluster.ts.
    if (cluster.isWorker) {
      await startWorker(config, createLogger({ base: { worker: cluster.worker?.id } }));
      return new Promise<number>(() => undefined);
    }
    // Signals are handled from the start: one that arrives while the workers start stops them once they have.
    let stop: (() => Promise<void>) | undefined;
    let stopping: string | undefined;
    const stopNow = (): void => void stop!().then(() => exitAfterFlush(0, LOG_FLUSH_GRACE_MS));
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = signal;
      process.stderr.write(`Tessera IdP stopping (${signal})\n`);
      if (stop) stopNow();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    if (config.http.workers > 1) {
      const logger = createLogger({ base: { process: 'primary' } });
      const supervisor = await startPrimary(config, logger);
      stop = () => supervisor.stop();
    } else {
      const running = await startIdp({ config });
      stop = () => running.close(DRAIN_GRACE_MS);
    }
    if (stopping) {
      stopNow();
      return new Promise<number>(() => undefined);
    }
    process.stderr.write(
      `Tessera IdP listening on ${config.baseUrl} (metadata: ${config.endpoints.metadata}; ${config.http.workers} worker${config.http.workers === 1 ? '' : 's'})\n`,
    );
    return new Promise<number>(() => undefined);
  },

  'sp register': async ({ positionals, flags, config }) => {
    const file = requireArgument(positionals[0], 'FILE.xml');
    let xml: string;
    try {
      xml = readFileSync(path.resolve(file), 'utf8');
    } catch (error) {
      throw new TesseraError('sp_metadata_invalid', `cannot read ${file}: ${errorMessage(error)}`);
    }
    const sp = parseSpMetadata(xml, { signResponse: flags.signResponse, now: systemClock.now() });
    const outcome = await withStore(config, (store) => store.serviceProviders.register(sp, flags.replace));
    process.stdout.write(`${outcome === 'created' ? 'registered' : 'replaced'} ${sp.entityId}\n`);
    return 0;
  },

  'sp list': async ({ config }) => {
    const sps = await withStore(config, (store) => store.serviceProviders.list());
    for (const sp of sps) {
      const acs = sp.assertionConsumerServices.map((e) => e.location).join(',');
      process.stdout.write(
        [sp.entityId, `acs=${acs}`, `requestsSigned=${sp.authnRequestsSigned}`, `signResponse=${sp.signResponse}`, `encrypt=${sp.encryptionCertificates.length > 0}`].join('\t') + '\n',
      );
    }
    if (sps.length === 0) process.stderr.write('no SPs registered\n');
    return 0;
  },

  'sp remove': async ({ positionals, config }) => {
    const entityId = requireArgument(positionals[0], 'ENTITYID');
    const removed = await withStore(config, (store) => store.serviceProviders.remove(entityId));
    if (!removed) throw new TesseraError('not_found', `no SP with entityID ${entityId} is registered`);
    process.stdout.write(`removed ${entityId}\n`);
    return 0;
  },

  'token create': async ({ positionals, config }) => {
    const name = requireArgument(positionals[0], 'NAME');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new TesseraError('invalid_value', 'NAME must be 1-64 letters, digits, dots, dashes or underscores');
    const token = generateOrchestratorToken();
    await withStore(config, (store) => store.tokens.create(name, hashOrchestratorToken(token), systemClock.now()));
    process.stdout.write(token + '\n');
    process.stderr.write(`token "${name}" created: it is shown only this once; Tessera stores only its hash\n`);
    return 0;
  },

  'token revoke': async ({ positionals, config }) => {
    const name = requireArgument(positionals[0], 'NAME');
    const revoked = await withStore(config, (store) => store.tokens.revoke(name, systemClock.now()));
    if (!revoked) throw new TesseraError('not_found', `no active token named "${name}"`);
    process.stdout.write(`revoked ${name}\n`);
    return 0;
  },
};

/** Lifecycle commands: key rollover and the audit trail (code in lib/keys and lib/audit). */
Object.assign(commands, lifecycleCommands(withStore));
/** Step-up approvals (code in lib/approvals). */
Object.assign(commands, approvalCommands(withStore));

function requireArgument(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new TesseraError('invalid_value', `missing ${name}\n${USAGE}`);
  return value;
}

/**
 * A reader that stops early (`tessera audit export | head`) closes the pipe: the
 * command stops there, with status 0 and no error, as Unix tools do. Not for
 * `start`: a server does not end because a log reader did.
 */
function stopQuietlyWhenTheReaderLeaves(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      replace: { type: 'boolean', default: false },
      'no-sign-response': { type: 'boolean', default: false },
      agent: { type: 'string' },
      task: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  const [first, second, ...rest] = positionals;
  const twoWord = `${first} ${second ?? ''}`;
  const name = commands[twoWord] ? twoWord : first!;
  const command = commands[name];
  if (!command) throw new TesseraError('invalid_value', `unknown command "${positionals.join(' ')}"\n${USAGE}`);
  if (name !== 'start') stopQuietlyWhenTheReaderLeaves();
  const config = loadConfig({ env: process.env, ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) });
  return command({
    positionals: commands[twoWord] ? rest : [second, ...rest].filter((p): p is string => p !== undefined),
    flags: {
      replace: values.replace,
      signResponse: !values['no-sign-response'],
      agent: values.agent,
      task: values.task,
      since: values.since,
      until: values.until,
    },
    config,
  });
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    const message = error instanceof TesseraError ? error.message : `unexpected error: ${errorMessage(error)}`;
    process.stderr.write(`tessera: ${message}\n`);
    exitAfterFlush(1);
  },
);
