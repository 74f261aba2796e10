import fs from 'node:fs';
const orig = fs.fdatasync; let n = 0, total = 0;
fs.fdatasync = (fd, cb) => { const t = performance.now(); orig(fd, (e) => { n++; total += performance.now() - t; cb(e); }); };
const origSync = fs.fsyncSync;
const { startTestIdp, provisionAgent, openTask } = await import('./dist/spec/support/harness.js');
const { registerNodeSamlSp } = await import('./dist/spec/support/node-saml-sp.js');
const idp = await startTestIdp();
const sp = await registerNodeSamlSp(idp, { signResponse: false });
const agent = await provisionAgent(idp);
const task = await openTask(idp, { agent: agent.userName, audiences: [sp.entityId] });
const times = [];
for (let i = 0; i < 60; i++) {
  const t = performance.now();
  const r = await idp.request({ path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`, headers: { 'Task-ID': task, accept: 'application/json' }, clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem } });
  times.push(performance.now() - t);
  if (r.status !== 200) console.log(r.status, r.body.slice(0, 200));
}
times.sort((a, b) => a - b);
console.log('p50', times[30].toFixed(1), 'p90', times[54].toFixed(1), 'fdatasync n', n, 'avg ms', (total / n).toFixed(2));
await idp.close();
