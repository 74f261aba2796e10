import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { freePort, startTestIdp } from './support/harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist/scripts/tessera.js');
const EXAMPLE_SP = path.join(ROOT, 'metadata/example-sp.xml');

function tessera(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tessera command line', function () {
  let dataDir: string;

  beforeEach(function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-cli-'));
  });
  afterEach(function () {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers, lists, refuses a duplicate, replaces and removes an SP', function () {
    const registered = tessera(['sp', 'register', EXAMPLE_SP, '--data-dir', dataDir]);
    assert.equal(registered.status, 0, registered.stderr);
    assert.equal(registered.stdout, 'registered https://sp.example.com/saml\n');

    const duplicate = tessera(['sp', 'register', EXAMPLE_SP, '--data-dir', dataDir]);
    assert.equal(duplicate.status, 1);
    assert.equal(duplicate.stdout, '');
    assert.match(duplicate.stderr, /^tessera: .*already registered.*--replace.*\n$/);
    assert.equal(duplicate.stderr.split('\n').length, 2, 'one line on stderr');

    const replaced = tessera(['sp', 'register', EXAMPLE_SP, '--replace', '--no-sign-response', '--data-dir', dataDir]);
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.equal(replaced.stdout, 'replaced https://sp.example.com/saml\n');

    const listed = tessera(['sp', 'list', '--data-dir', dataDir]);
    assert.equal(listed.status, 0);
    assert.match(listed.stdout, /^https:\/\/sp\.example\.com\/saml\tacs=https:\/\/sp\.example\.com\/saml\/acs\t.*signResponse=false/);

    assert.equal(tessera(['sp', 'remove', 'https://sp.example.com/saml', '--data-dir', dataDir]).status, 0);
    const again = tessera(['sp', 'remove', 'https://sp.example.com/saml', '--data-dir', dataDir]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no SP with entityID/);
  });

  it('refuses unsafe or unusable metadata with one clear line', function () {
    const unsafe = path.join(dataDir, 'xxe.xml');
    writeFileSync(unsafe, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">&e;</md:EntityDescriptor>');
    const refused = tessera(['sp', 'register', unsafe, '--data-dir', dataDir]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^tessera: .*DOCTYPE/i);
    const missing = tessera(['sp', 'register', path.join(dataDir, 'nope.xml'), '--data-dir', dataDir]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read/);
    const unknown = tessera(['frobnicate', '--data-dir', dataDir]);
    assert.notEqual(unknown.status, 0);
  });

  it('creates a token printed once on stdout that a running IdP accepts, and revokes it', async function () {
    const created = tessera(['token', 'create', 'okta-prod', '--data-dir', dataDir]);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /^tsr_[A-Za-z0-9_-]{43}\n$/);
    assert.match(created.stderr, /shown only this once/);
    const token = created.stdout.trim();
    const duplicate = tessera(['token', 'create', 'okta-prod', '--data-dir', dataDir]);
    assert.equal(duplicate.status, 1);

    const idp = await startTestIdp({ dataDir });
    try {
      const call = () => idp.request({ path: '/api/v1/tasks/00000000-0000-4000-8000-000000000000', headers: { authorization: `Bearer ${token}` } });
      assert.equal((await call()).status, 404, 'the token authenticates');
      const revoked = tessera(['token', 'revoke', 'okta-prod', '--data-dir', dataDir]);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.equal((await call()).status, 401, 'the revoked token no longer authenticates');
    } finally {
      await idp.close();
    }
    assert.equal(tessera(['token', 'revoke', 'okta-prod', '--data-dir', dataDir]).status, 1);
  });

  it('starts the IdP with no configuration but a port, serving metadata over HTTPS', async function () {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'start'], {
      cwd: dataDir,
      env: { PATH: process.env.PATH ?? '', TESSERA_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('server.listening')) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no start: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const line = JSON.parse(stdout.split('\n').find((l) => l.includes('server.listening'))!) as Record<string, unknown>;
      assert.equal(line.entityId, `https://localhost:${port}/saml/metadata`);
      assert.match(stderr, /kek\.generated/, 'a loud warning when no master key is configured');
      const response = await fetchInsecure(`https://127.0.0.1:${port}/healthz`);
      assert.equal(response.status, 200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    assert.equal(child.exitCode, 0, 'SIGTERM stops it cleanly');
  });
});

/** The started server's certificate is self-signed and not at hand here: only this probe skips verification. */
async function fetchInsecure(url: string): Promise<{ status: number }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}
