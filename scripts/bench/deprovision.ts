import Database from 'better-sqlite3';
import path from 'node:path';
import { DATABASE_FILE } from '../../lib/store/index.js';
import { SqliteSessionRepository } from '../../lib/store/sqlite-sessions.js';
import { rsaCredential, type BenchSp } from './fixtures.js';
import type { Orchestrator } from './orchestrator.js';
import type { DeprovisionTrial } from './report.js';
import { HttpsClient, inParallel, type RunningServer } from './server.js';
import { IDP_INITIATED_PATH } from './workloads.js';

/*
 * Deprovisioning an agent that holds 1,000 live sessions: how long the SCIM
 * PATCH active=false takes to answer (it revokes them in the same request), and
 * whether the agent's next sign-on is refused.
 */

/**
 * Live sessions of an agent, read from the server's database while it runs, on a read-only
 * connection: the bench never applies migrations or writes to a database the server owns.
 */
function liveSessions(dataDir: string, agentId: string): Promise<number> {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  return new SqliteSessionRepository(db)
    .listLiveForAgent(agentId, new Date())
    .then((sessions) => sessions.length)
    .finally(() => db.close());
}

export async function deprovisionTrials(options: {
  orchestrator: Orchestrator;
  server: RunningServer;
  dataDir: string;
  sp: BenchSp;
  audiences: readonly string[];
  trials: number;
  progress: (line: string) => void;
}): Promise<DeprovisionTrial[]> {
  const { orchestrator, server, dataDir, sp, audiences, progress } = options;
  const trials: DeprovisionTrial[] = [];
  for (let trial = 0; trial < options.trials; trial++) {
    const userName = `bench-deprovisioned-${trial}`;
    const credential = await rsaCredential(userName);
    const agent = await orchestrator.provision(userName, credential);
    const tasks = await inParallel(Array.from({ length: 1_000 }), 16, () => orchestrator.openTask(userName, audiences));
    const agentClient = new HttpsClient(server, { maxSockets: 16, cert: credential.certPem, key: credential.keyPem });
    const signOnPath = `${IDP_INITIATED_PATH}?sp=${encodeURIComponent(sp.entityId)}`;
    const statuses = await inParallel(tasks, 16, async (task) => (await agentClient.send('GET', signOnPath, { 'task-id': task, accept: 'application/json' })).status);
    if (statuses.some((status) => status !== 200)) throw new Error(`sign-ons before deprovisioning failed: ${statuses.filter((s) => s !== 200).length}`);
    const liveSessionsBefore = await liveSessions(dataDir, agent.id);
    await orchestrator.get(agent.id); // the orchestrator's connection is open, as it would be
    const t0 = performance.now();
    const status = await orchestrator.deactivate(agent.id);
    const milliseconds = performance.now() - t0;
    const next = await agentClient.send('GET', signOnPath, { 'task-id': tasks[0]!, accept: 'application/json' });
    let nextError: string | undefined;
    if (next.status !== 200) {
      try {
        nextError = next.json<{ error?: string }>().error;
      } catch {
        nextError = undefined;
      }
    }
    agentClient.close();
    const result: DeprovisionTrial = {
      liveSessionsBefore,
      status,
      milliseconds,
      nextSignOnStatus: next.status,
      nextSignOnError: nextError,
      liveSessionsAfter: await liveSessions(dataDir, agent.id),
    };
    trials.push(result);
    progress(
      `deprovisioned an agent with ${liveSessionsBefore} live sessions in ${milliseconds.toFixed(1)} ms; next sign-on ${next.status}` +
        `${nextError ? ` ${nextError}` : ''}; live sessions after: ${result.liveSessionsAfter}`,
    );
  }
  return trials;
}
