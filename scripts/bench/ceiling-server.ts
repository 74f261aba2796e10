import cluster from 'node:cluster';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

/*
 * The ceiling of one CPU for a sign-on over HTTPS, run by the bench as a
 * process of its own: mTLS keep-alive connections, one RSA-SHA256 signature
 * with the IdP's signing key over a SignedInfo of the sign-on's size, and an
 * answer of the sign-on's size. Nothing else: no routing, no storage, no XML,
 * no audit, no log. What the IdP does beyond this is what separates its
 * throughput from this one's.
 *
 * With `workers` above one it runs that many node:cluster workers, as
 * `tessera start` does with TESSERA_WORKERS: how far this machine lets any
 * signing server scale across its CPUs with the load generator beside it.
 */

export interface CeilingServerSpec {
  readonly port: number;
  readonly tlsKeyPem: string;
  readonly tlsCertificatePem: string;
  readonly signingKeyPem: string;
  readonly signedInfoBase64: string;
  /** The length of the IdP's JSON sign-on answer. */
  readonly bodyBytes: number;
  /** Server processes (node:cluster workers, the connections shared round-robin); 1 when absent. */
  readonly workers?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as CeilingServerSpec;
const workers = spec.workers ?? 1;

if (workers > 1 && cluster.isPrimary) {
  // The primary serves nothing: it starts the workers, says "listening" once all are, and stops them.
  let listening = 0;
  let exited = 0;
  let stopping = false;
  for (let i = 0; i < workers; i++) {
    cluster.fork().once('listening', () => {
      listening += 1;
      if (listening === workers) process.stdout.write('listening\n');
    });
  }
  cluster.on('exit', (_worker, code) => {
    exited += 1;
    // A worker that dies on its own makes the measurement meaningless: stop, and let the bench see it.
    if (!stopping) process.exit(code ?? 1);
    if (exited === workers) process.exit(0);
  });
  process.once('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  });
} else {
  serve();
}

function serve(): void {
  const signingKey = createPrivateKey(spec.signingKeyPem);
  const signedInfo = Buffer.from(spec.signedInfoBase64, 'base64');
  const prefix = '{"acsUrl":"https://sp.example.test/acs","SAMLResponse":"';
  // Base64 of a 256-byte signature is 344 characters.
  const filler = 'A'.repeat(Math.max(0, spec.bodyBytes - prefix.length - 344 - 2));

  const server = createServer({ key: spec.tlsKeyPem, cert: spec.tlsCertificatePem, requestCert: true, rejectUnauthorized: false }, (_req, res) => {
    const body = `${prefix}${filler}${sign('sha256', signedInfo, signingKey).toString('base64')}"}`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(spec.port, '127.0.0.1', () => {
    if (cluster.isPrimary) process.stdout.write('listening\n');
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}
