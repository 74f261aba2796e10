import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/*
 * Issue 5's dependency floors, checked offline against what the lockfile resolves (npm audit needs
 * the registry's advisory service, which .ci/run also asks when it can be reached): every copy of
 * a package in the tree counts, nested ones included.
 */

interface LockPackage {
  readonly version?: string;
  readonly dev?: boolean;
}

const lock = JSON.parse(readFileSync(fileURLToPath(new URL('../../package-lock.json', import.meta.url)), 'utf8')) as {
  packages: Record<string, LockPackage>;
};

function copiesOf(name: string): Array<{ path: string; version: string }> {
  return Object.entries(lock.packages)
    .filter(([path]) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`))
    .map(([path, entry]) => ({ path, version: entry.version ?? '0.0.0' }));
}

function compare(a: string, b: string): number {
  const parse = (version: string) => version.split('-')[0]!.split('.').map(Number);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i += 1) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

describe('dependency floors (issue 5), as resolved in package-lock.json', () => {
  it('samlify, wherever it appears, is at least 2.13.0', () => {
    for (const copy of copiesOf('samlify')) assert.ok(compare(copy.version, '2.13.0') >= 0, `${copy.path} is ${copy.version}`);
  });

  it('every xml-crypto is at least 6.1.2', () => {
    const copies = copiesOf('xml-crypto');
    assert.ok(copies.length > 0);
    for (const copy of copies) assert.ok(compare(copy.version, '6.1.2') >= 0, `${copy.path} is ${copy.version}`);
  });

  it('every @xmldom/xmldom is at least 0.8.13 on the 0.8 line, or at least 0.9.10', () => {
    const copies = copiesOf('@xmldom/xmldom');
    assert.ok(copies.length > 0);
    for (const copy of copies) {
      const ok = copy.version.startsWith('0.8.') ? compare(copy.version, '0.8.13') >= 0 : compare(copy.version, '0.9.10') >= 0;
      assert.ok(ok, `${copy.path} is ${copy.version}`);
    }
  });

  it('no unscoped xmldom anywhere in the tree', () => {
    assert.deepEqual(copiesOf('xmldom'), []);
  });
});
