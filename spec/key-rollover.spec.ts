import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { ManualClock } from '../lib/common/clock.js';
import { openTask, provisionAgent, startTestIdp, type TestAgent, type TestIdp } from './support/harness.js';
import { registerNodeSamlSp, type NodeSamlSp } from './support/node-saml-sp.js';
import { tessera, writeConfig } from './support/lifecycle-tools.js';
import { xmlsec1Verify } from './support/xml-tools.js';
import { certificateBody } from '../lib/keys/index.js';

const OVERLAP = 600;
const RETIRE_AFTER = 900;

function pemOf(body: string): string {
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The signing certificates an SP would import from the IdP's metadata, in document order. */
function signingCertificates(metadataXml: string): string[] {
  const descriptors = metadataXml.match(/<md:KeyDescriptor use="signing">[\s\S]*?<\/md:KeyDescriptor>/g) ?? [];
  return descriptors.map((d) => pemOf(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(d)![1]!));
}

/** The certificate in the Assertion's own signature KeyInfo: which key signed it. */
function assertionSigner(samlResponse: string): string {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
  return /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(assertion)![1]!;
}

describe('signing-key rollover: tessera keys rotate, overlap, switch, retirement', function () {
  this.timeout(120_000);
  const clock = new ManualClock();
  let idp: TestIdp;
  let sp: NodeSamlSp;
  let agent: TestAgent;
  let taskId: string;

  before(async function () {
    clock.set(new Date());
    const config = writeConfig(`keys:\n  rolloverOverlapSeconds: ${OVERLAP}\n  retireAfterSeconds: ${RETIRE_AFTER}\n`);
    idp = await startTestIdp({ clock, env: { TESSERA_CONFIG: config } });
    sp = await registerNodeSamlSp(idp);
    agent = await provisionAgent(idp);
    taskId = await openTask(idp, { agent: agent.userName, tier: 'low', ttlSeconds: 7200 });
  });
  after(async () => idp.close());

  async function metadata(): Promise<string> {
    const response = await idp.request({ path: '/saml/metadata' });
    assert.equal(response.status, 200);
    return response.body;
  }

  /** node-saml as an SP that imported the IdP metadata: it trusts exactly the listed signing certificates. */
  function spTrusting(certificates: string[]): SAML {
    return new SAML({
      entryPoint: `${idp.baseUrl}/saml/sso`,
      issuer: sp.entityId,
      callbackUrl: sp.acsUrl,
      idpCert: certificates,
      idpIssuer: `${idp.baseUrl}/saml/metadata`,
      audience: sp.entityId,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      validateInResponseTo: ValidateInResponseTo.never,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      // The IdP runs on a test clock up to ~25 minutes ahead of the wall clock node-saml reads.
      acceptedClockSkewMs: 30 * 60_000,
    });
  }

  async function signOn(): Promise<string> {
    const response = await idp.request({
      path: `/saml/sso/initiate?sp=${encodeURIComponent(sp.entityId)}`,
      headers: { accept: 'application/json', 'task-id': taskId },
      clientCert: { certPem: agent.credential.certPem, keyPem: agent.credential.keyPem },
    });
    assert.equal(response.status, 200, response.body);
    return response.json<{ SAMLResponse: string }>().SAMLResponse;
  }

  async function auditEvents(): Promise<string[]> {
    await idp.running.idp.auditLog.flush();
    const events: string[] = [];
    for await (const entry of idp.running.idp.store.audit.query({})) events.push(entry.event);
    return events;
  }

  it('publishes two signing keys during the overlap, and node-saml configured from that metadata accepts both', async function () {
    const before = signingCertificates(await metadata());
    assert.equal(before.length, 1);
    const oldKey = certificateBody(before[0]!);

    // Another process, as an admin would run it.
    const rotated = tessera(['keys', 'rotate', '--data-dir', idp.dataDir], { TESSERA_CONFIG: writeConfig(`keys:\n  rolloverOverlapSeconds: ${OVERLAP}\n`) });
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, /^published next signing key [0-9a-f-]{36} \(certificate SHA-256 [0-9a-f]{64}\)\n$/);
    const again = tessera(['keys', 'rotate', '--data-dir', idp.dataDir]);
    assert.equal(again.status, 1, 'one next key at a time');
    assert.match(again.stderr, /^tessera: a next signing key .* is already published; it becomes the signing key at /);

    // The running IdP picks the new key up from the table, without a restart.
    const overlapXml = await metadata();
    const overlap = signingCertificates(overlapXml);
    assert.equal(overlap.length, 2, 'metadata carries the current and the next signing key');
    assert.equal(certificateBody(overlap[0]!), oldKey, 'the current key is listed first');
    const newKey = certificateBody(overlap[1]!);
    assert.notEqual(newKey, oldKey);
    const metadataSignature = await xmlsec1Verify(overlapXml, overlap[0]!);
    assert.ok(metadataSignature.ok, `metadata is still signed by the current key: ${metadataSignature.output}`);

    const duringOverlap = spTrusting(overlap);
    const signedByOld = await signOn();
    assert.equal(assertionSigner(signedByOld), oldKey, 'until the overlap ends the old key signs');
    const { profile: first } = await duringOverlap.validatePostResponseAsync({ SAMLResponse: signedByOld });
    assert.equal(first?.nameID, agent.userName);

    // The command line scheduled the switch on the wall clock, a few seconds after the test clock was set.
    clock.advance(OVERLAP + 60);
    const switchedXml = await metadata();
    const switched = signingCertificates(switchedXml);
    assert.deepEqual(switched.map(certificateBody), [newKey, oldKey], 'after the switch both are still published, the new one first');
    assert.ok((await xmlsec1Verify(switchedXml, switched[0]!)).ok, 'metadata is now signed by the new key');

    const signedByNew = await signOn();
    assert.equal(assertionSigner(signedByNew), newKey, 'after the overlap the IdP signs with the new key');
    const { profile: second } = await duringOverlap.validatePostResponseAsync({ SAMLResponse: signedByNew });
    assert.equal(second?.nameID, agent.userName, 'an SP that imported the overlap metadata accepts the new key');
    const { profile: stillOld } = await duringOverlap.validatePostResponseAsync({ SAMLResponse: signedByOld });
    assert.equal(stillOld?.nameID, agent.userName, 'and still the old one');

    const events = await auditEvents();
    assert.ok(events.includes('key.rotated') && events.includes('key.activated') && events.includes('key.retired'), events.join(','));

    // After retirement only the new key is published, and an SP configured from that metadata trusts only it.
    clock.advance(RETIRE_AFTER + 1);
    const after = signingCertificates(await metadata());
    assert.deepEqual(after.map(certificateBody), [newKey], 'the old key left the metadata');
    const afterRetirement = spTrusting(after);
    const { profile: third } = await afterRetirement.validatePostResponseAsync({ SAMLResponse: await signOn() });
    assert.equal(third?.nameID, agent.userName);
    await assert.rejects(
      afterRetirement.validatePostResponseAsync({ SAMLResponse: signedByOld }),
      /signature/i,
      'an assertion signed by the retired key is refused',
    );
  });

  it('rotates on a schedule when rotationIntervalSeconds is set', async function () {
    const scheduledClock = new ManualClock();
    const config = writeConfig(`keys:\n  rotationIntervalSeconds: 3600\n  rolloverOverlapSeconds: 600\n  retireAfterSeconds: 600\n`);
    const scheduled = await startTestIdp({ clock: scheduledClock, env: { TESSERA_CONFIG: config } });
    try {
      const certificatesNow = async () =>
        signingCertificates((await scheduled.request({ path: '/saml/metadata' })).body).map((pem) => new X509Certificate(pem).fingerprint256);
      const original = await certificatesNow();
      await scheduled.running.idp.maintainKeys();
      assert.deepEqual(await certificatesNow(), original, 'not due yet');

      scheduledClock.advance(3000); // interval - overlap: the successor is published now
      await scheduled.running.idp.maintainKeys();
      const published = await certificatesNow();
      assert.equal(published.length, 2);
      assert.equal(published[0], original[0]);

      scheduledClock.advance(601); // the overlap has passed: the successor signs
      await scheduled.running.idp.maintainKeys();
      const afterSwitch = await certificatesNow();
      assert.deepEqual(afterSwitch, [published[1], original[0]]);

      scheduledClock.advance(601);
      await scheduled.running.idp.maintainKeys();
      assert.deepEqual(await certificatesNow(), [published[1]]);
    } finally {
      await scheduled.close();
    }
  });
});
