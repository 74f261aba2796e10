import { X509Certificate, randomBytes, createPrivateKey, sign, randomUUID, createHash } from 'node:crypto';
import { generateSelfSigned } from './dist/lib/keys/index.js';
const g = await generateSelfSigned({ commonName: 'x', validDays: 2, now: new Date() });
const raw = new X509Certificate(g.certificatePem).raw;
const key = createPrivateKey(g.privateKeyPem);
const bench = (name, n, f) => { for (let i = 0; i < 200; i++) f(); const t = performance.now(); for (let i = 0; i < n; i++) f(); const us = (performance.now() - t) / n * 1000; console.log(name.padEnd(30), us.toFixed(1), 'us'); return us; };
const data = Buffer.alloc(800, 7);
for (let r = 0; r < 2; r++) {
const rsa = bench('rsa sign', 2000, () => sign('sha256', data, key));
bench('X509Certificate(raw)', 5000, () => new X509Certificate(raw));
bench('X509 + validFrom/To parse', 5000, () => { const c = new X509Certificate(raw); return Date.parse(c.validTo) + Date.parse(c.validFrom); });
bench('randomBytes(20) hex', 50000, () => randomBytes(20).toString('hex'));
bench('randomUUID', 50000, () => randomUUID());
const body = 'x'.repeat(9000);
bench('sha1 10KB (etag)', 20000, () => createHash('sha1').update(body).digest('base64'));
bench('json log line', 20000, () => JSON.stringify({ time: new Date().toISOString(), level: 'info', event: 'http.request', method: 'GET', path: '/saml/sso/initiate', status: 200, durationMs: 1.23, remoteAddress: '127.0.0.1' }));
}
