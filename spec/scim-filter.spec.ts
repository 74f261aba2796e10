import assert from 'node:assert/strict';
import { TesseraError } from '../lib/common/errors.js';
import type { JsonObject } from '../lib/scim/attribute-path.js';
import { parseFilter, parsePatchPath } from '../lib/scim/filter.js';
import { matchesFilter } from '../lib/scim/filter-evaluator.js';
import { GROUP_RESOURCE, USER_RESOURCE } from '../lib/scim/schema-definitions.js';

const AGENT = 'urn:tessera:scim:schemas:extension:agent:2.0:Agent';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const bjensen: JsonObject = {
  id: '2819c223-7f76-453a-919d-413861904646',
  userName: 'BJensen@example.com',
  displayName: 'Babs Jensen',
  active: true,
  name: { familyName: 'Jensen', givenName: 'Barbara' },
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  [ENTERPRISE]: { department: 'Tour Operations', manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d' } },
  [AGENT]: { modelHash: 'sha256:ABC', scopes: ['invoices:read', 'reports:read'] },
  meta: { created: '2026-01-23T04:56:22Z', lastModified: '2026-05-13T04:42:34Z', resourceType: 'User', version: 'W/"3"' },
};

const matches = (filter: string, document: JsonObject = bjensen) => matchesFilter(document, parseFilter(filter, USER_RESOURCE));

function refused(filter: string, code = 'scim_invalid_filter'): void {
  assert.throws(() => parseFilter(filter, USER_RESOURCE), (error: unknown) => error instanceof TesseraError && error.code === code, filter.slice(0, 80));
}

describe('SCIM filters (RFC 7644 §3.4.2.2)', function () {
  it('compares with every operator, case-insensitively unless the schema says caseExact', function () {
    assert.equal(matches('userName eq "bjensen@EXAMPLE.com"'), true);
    assert.equal(matches('userName ne "bjensen@example.com"'), false);
    assert.equal(matches('name.familyName co "ens"'), true);
    assert.equal(matches('userName sw "BJ"'), true);
    assert.equal(matches('userName ew ".COM"'), true);
    assert.equal(matches('displayName gt "Babs"'), true);
    assert.equal(matches('displayName ge "babs jensen"'), true);
    assert.equal(matches('displayName lt "Babs"'), false);
    assert.equal(matches('displayName le "Babs Jensen"'), true);
    assert.equal(matches('id eq "2819C223-7F76-453A-919D-413861904646"'), false, 'id is caseExact');
    assert.equal(matches(`${AGENT}:modelHash eq "sha256:abc"`), false, 'modelHash is caseExact');
    assert.equal(matches(`${AGENT}:modelHash eq "sha256:ABC"`), true);
  });

  it('handles presence, booleans, dateTimes, multi-valued and complex attributes, and extensions', function () {
    assert.equal(matches('title pr'), false);
    assert.equal(matches('emails pr and name.givenName pr'), true);
    assert.equal(matches('active eq true'), true);
    assert.equal(matches('meta.lastModified gt "2026-05-13T04:42:33Z"'), true);
    assert.equal(matches('meta.created lt "2026-01-23T06:56:22+02:00"'), false, 'instants, not strings');
    assert.equal(matches('emails co "jensen.org"'), true, 'a complex attribute compares its value');
    assert.equal(matches('emails.type eq "home"'), true);
    assert.equal(matches('emails[type eq "work" and value co "@example.com"]'), true);
    assert.equal(matches('emails[type eq "home" and value co "@example.com"]'), false, 'both conditions on one value');
    assert.equal(matches(`${ENTERPRISE}:department eq "tour operations"`), true);
    assert.equal(matches(`${ENTERPRISE.toUpperCase()}:MANAGER.VALUE eq "26118915-6090-4610-87e4-49d8ca9f808d"`), true, 'URNs and names are case-insensitive');
    assert.equal(matches(`${AGENT}:scopes eq "reports:read"`), true);
  });

  it('combines with and/or/not and grouping, with and binding tighter than or', function () {
    assert.equal(matches('userName eq "x" or userName sw "bj" and active eq false'), false);
    assert.equal(matches('(userName eq "x" or userName sw "bj") and active eq true'), true);
    assert.equal(matches('not (userName eq "x") and NOT (active eq false)'), true);
    assert.equal(matches('emails[not (type eq "work")]'), true);
  });

  it('refuses injection attempts, unknown attributes, bare words and deep nesting with invalidFilter', function () {
    refused('userName eq "x" or 1=1');
    refused("userName eq 'x' or '1'='1'");
    refused('userName eq "x\\" or \\"1\\"=\\"1"x');
    refused('userName eq "unterminated');
    refused('userName eq x');
    refused('userName eq "x"; DROP TABLE agents');
    refused('password eq "secret"');
    refused('__proto__ eq "x"');
    refused('constructor.prototype pr');
    refused('urn:example:unknown:attr eq "x"');
    refused('active gt true');
    refused('active eq "True"');
    refused('meta.created gt "yesterday"');
    refused('emails[value eq "a"]]');
    refused('not userName eq "x"');
    refused('');
    refused('('.repeat(10_000) + 'userName eq "x"' + ')'.repeat(10_000));
    refused('('.repeat(40) + 'userName eq "x"' + ')'.repeat(40));
    refused('not ('.repeat(20) + 'userName eq "x"' + ')'.repeat(20));
    assert.equal(matches('('.repeat(10) + 'userName pr' + ')'.repeat(10)), true, 'reasonable nesting is fine');
    refused(Array.from({ length: 300 }, () => 'userName pr').join(' or '));
  });

  it('reads a quoted string exactly as JSON does: a quote inside stays inside', function () {
    const document: JsonObject = { ...bjensen, displayName: 'a" or "1"="1' };
    assert.equal(matches('displayName eq "a\\" or \\"1\\"=\\"1"', document), true);
    assert.equal(matches('displayName eq "a"', document), false);
  });

  it('parses PATCH paths, with value filters and a sub-attribute after them', function () {
    const path = parsePatchPath('members[value eq "2819c223"]', GROUP_RESOURCE);
    assert.equal(path.path.attribute.name, 'members');
    assert.ok(path.filter);
    const sub = parsePatchPath('emails[type eq "work"].value', USER_RESOURCE);
    assert.equal(sub.subAfterFilter?.name, 'value');
    for (const bad of ['__proto__', 'constructor.prototype', 'userName[value eq "x"]', 'emails[type eq "work"]x', 'emails[nope eq "x"]', 'name.__proto__']) {
      assert.throws(() => parsePatchPath(bad, USER_RESOURCE), (error: unknown) => error instanceof TesseraError && error.code === 'scim_invalid_path', bad);
    }
  });
});
