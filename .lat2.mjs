import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module';
const orig = fs.fdatasync; let n = 0, total = 0, max = 0;
fs.fdatasync = (fd, cb) => { const t = performance.now(); orig(fd, (e) => { const d = performance.now() - t; n++; total += d; max = Math.max(max, d); cb(e); }); };
const origFsync = fs.fsync; let fn = 0;
syncBuiltinESMExports();
const { startTestIdp, provisionAgent, openTask } = await import('./dist/spec/support/harness.js');
const { registerNodeSamlSp } = await import('./dist/spec/support/node-saml-sp.js');
const https = await import('node:https');
const idp = await startTestIdp();
const sp = await registerNodeSamlSp(idp, { signResponse: false });
const agent = await provisionAgent(idp);
const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
const ka = new https.Agent({ keepAlive: true, maxSockets: 1, ca: idp.tlsCertificatePem, cert: agent.credential.certPem, key: agent.credential.keyPem, servername: 'localhost' });
const get = () => new Promise((res, rej) => { const r = https.request({ host: '127.0.0.1', port: idp.port, servername: 'localhost', path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`, headers: { 'Task-ID': task, accept: 'application/json' }, agent: ka }, (m) => { m.resume(); m.on('end', () => res(m.statusCode)); }); r.on('error', rej); r.end(); });
const times = [];
for (let i = 0; i < 100; i++) { const t = performance.now(); const s = await get(); times.push(performance.now() - t); if (s !== 200) console.log(s); }
times.sort((a, b) => a - b);
console.log('p50', times[50].toFixed(1), 'p90', times[90].toFixed(1), 'fdatasync n', n, 'avg ms', (total / n).toFixed(2), 'max', max.toFixed(1));
await idp.close();
