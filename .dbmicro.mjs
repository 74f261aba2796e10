import { mkdtempSync, statSync } from 'node:fs';
import path from 'node:path'; import os from 'node:os'; import { randomUUID, randomBytes } from 'node:crypto';
import { openGroupCommitDatabase, sqliteStore } from './dist/lib/store/index.js';
import { chainedAuditLog } from './dist/lib/audit/index.js';
import { systemClock } from './dist/lib/common/clock.js';
import { silentLogger } from './dist/lib/common/log.js';
const dir = mkdtempSync(path.join(os.tmpdir(), 'dbm-'));
const g = openGroupCommitDatabase(dir); const store = sqliteStore(g.db);
const now = new Date();
const agent = await store.agents.create({ id: randomUUID(), userName: 'a1', active: true, externalId: undefined, profile: { owner: undefined, modelHash: 'm', sourceCommit: 's', trainingDataVersion: 't', sensitivityTier: 'medium', computeZone: undefined, allowedCidrs: [], scopes: ['x'] }, extraAttributes: {}, certificates: [] }, now).catch(e => { console.log('agent create failed', e.message); process.exit(1); });
const tasks = [];
for (let i = 0; i < 100; i++) tasks.push((await store.tasks.create({ id: randomUUID(), agentId: agent.id, scopes: ['x'], tier: 'medium', audiences: [], context: { cidrs: [], computeZone: undefined }, status: 'OPEN', createdAt: now, expiresAt: new Date(now.getTime() + 86400000), endedAt: undefined })).id);
const audit = chainedAuditLog({ store: store.audit, clock: systemClock, logger: silentLogger });
const id = () => '_' + randomBytes(20).toString('hex');
const wal = path.join(dir, 'tessera.db-wal');
const N = 3000; const w0 = statSync(wal).size;
let tS = 0, tA = 0;
for (let i = 0; i < N; i++) {
  const t = new Date();
  const s = performance.now();
  const r = await store.sessions.openOrRefresh({ id: randomUUID(), sessionIndex: id(), agentId: agent.id, taskId: tasks[i % 100], spEntityId: 'sp', nameId: 'a1', nameIdFormat: 'f', assertionId: id(), authnMethod: 'mtls', createdAt: t, expiresAt: new Date(t.getTime() + 600000), revokedAt: undefined, revokeReason: undefined }, t, new Date(t.getTime() - 300000));
  const m = performance.now(); tS += m - s;
  await audit.record({ event: 'signon.issued', actor: 'agent:a1', agent: { id: agent.id, userName: 'a1', modelHash: 'sha256:1', sourceCommit: 'abc', trainingDataVersion: 'td' }, taskId: tasks[i % 100], spEntityId: 'sp', assertionId: r.session.assertionId, sessionId: r.session.id, details: { authnMethod: 'mtls', flow: 'idp-initiated', scopes: ['x'], sessionNotOnOrAfter: t.toISOString(), sessionRefreshed: r.refreshed, sourceAddress: '127.0.0.1' } });
  tA += performance.now() - m;
}
console.log('openOrRefresh us', (tS / N * 1000).toFixed(1), 'audit us (incl setImmediate wait)', (tA / N * 1000).toFixed(1), 'WAL bytes/op', Math.round((statSync(wal).size - w0) / N));
