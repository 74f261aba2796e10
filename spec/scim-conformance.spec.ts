import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { conformanceProblems, NON_RFC_REQUESTS, runScimConformance } from '../scripts/scim-conformance.js';

const SUITES = process.env.SCIM_CONFORMANCE_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/conformance/scim');

describe('SCIM conformance: Okta spec test and Microsoft reference collection, against `tessera start`', function () {
  this.timeout(300_000);

  it('passes Okta 12/12 and every RFC 7644 request of the Microsoft collection', async function () {
    const report = await runScimConformance(SUITES);
    assert.deepEqual(conformanceProblems(report), []);
    assert.equal(report.okta.passed, 12);
    const skipped = report.microsoft.filter((r) => r.skipped);
    assert.equal(skipped.length, NON_RFC_REQUESTS.length, 'every listed non-RFC request ran');
    const passed = report.microsoft.filter((r) => !r.skipped && r.failures.length === 0).length;
    assert.equal(passed + skipped.length, report.microsoft.length);
    console.log(`      Okta ${report.okta.passed}/12; Microsoft ${passed} passed, ${skipped.length} skipped as non-RFC, of ${report.microsoft.length}`);
  });
});
