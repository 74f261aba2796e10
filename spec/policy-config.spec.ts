import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../lib/config/index.js';
import { isTesseraError } from '../lib/common/errors.js';
import { freePort } from './support/harness.js';
import { tessera, writeConfig } from './support/lifecycle-tools.js';

/** A config naming a policy file; returns both paths. */
function withPolicyFile(policy: string): { config: string; policy: string } {
  const config = writeConfig('policyFile: cleanup.yaml\n');
  const policyPath = path.join(path.dirname(config), 'cleanup.yaml');
  writeFileSync(policyPath, policy);
  return { config, policy: policyPath };
}

function configError(configFile: string): string {
  try {
    loadConfig({ env: { TESSERA_CONFIG: configFile, TESSERA_DATA_DIR: path.dirname(configFile) } });
  } catch (error) {
    assert.ok(isTesseraError(error) && error.code === 'config_invalid', String(error));
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

const BAD_POLICIES: Array<{ name: string; text: string; line: number; reason: RegExp }> = [
  {
    name: 'an unknown condition',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n    - idleFor: 300s\n  actions:\n    - revokeTokens: true\n',
    line: 4,
    reason: /unknown condition "idleFor" \(expected taskStatus or inactivityWindow\)/,
  },
  {
    name: 'a status that does not exist',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: DONE\n  actions:\n    - revokeTokens: true\n',
    line: 3,
    reason: /taskStatus must be one of COMPLETED, FAILED, CANCELLED \(got "DONE"\)/,
  },
  {
    name: 'a window that is not a duration',
    text: 'automaticRevocation:\n  conditions:\n    - inactivityWindow: soon\n  actions:\n    - revokeTokens: true\n',
    line: 3,
    reason: /inactivityWindow must be a duration such as 300s, 5m or 1h/,
  },
  {
    name: 'a window that is too short',
    text: 'automaticRevocation:\n  conditions:\n    - inactivityWindow: 5s\n  actions:\n    - revokeTokens: true\n',
    line: 3,
    reason: /inactivityWindow must be from 10s to 30d/,
  },
  {
    name: 'an action that is not a boolean',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n  actions:\n    - revokeTokens: true\n    - rotateCredentials: sometimes\n',
    line: 6,
    reason: /rotateCredentials must be true or false/,
  },
  {
    name: 'no enabled action',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n  actions:\n    - revokeTokens: false\n',
    line: 5,
    reason: /no action is enabled/,
  },
  {
    name: 'an inactivity window that would not revoke',
    text: 'automaticRevocation:\n  conditions:\n    - inactivityWindow: 300s\n  actions:\n    - rotateCredentials: true\n',
    line: 5,
    reason: /an inactivityWindow condition needs revokeTokens: true/,
  },
  {
    name: 'missing conditions',
    text: 'automaticRevocation:\n  actions:\n    - revokeTokens: true\n',
    line: 2,
    reason: /conditions must be a non-empty list/,
  },
  {
    name: 'a condition given as a plain string',
    text: 'automaticRevocation:\n  conditions:\n    - COMPLETED\n  actions:\n    - revokeTokens: true\n',
    line: 3,
    reason: /a condition must be a mapping with one key: taskStatus or inactivityWindow/,
  },
  {
    name: 'an unknown top-level key',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n  actions:\n    - revokeTokens: true\nretention: 30d\n',
    line: 6,
    reason: /unknown key "retention": a policy file holds only automaticRevocation/,
  },
  {
    name: 'broken YAML',
    text: 'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n   actions:\n    - revokeTokens: true\n',
    line: 4,
    reason: /./,
  },
];

describe('cleanup policy file: validated at start, with the line and the reason', function () {
  this.timeout(60_000);

  it("accepts the seed's policy file and reads it exactly", function () {
    const { config, policy } = withPolicyFile(
      'automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n    - inactivityWindow: 300s\n  actions:\n    - revokeTokens: true\n    - rotateCredentials: true\n',
    );
    const loaded = loadConfig({ env: { TESSERA_CONFIG: config, TESSERA_DATA_DIR: path.dirname(config) } });
    assert.deepEqual(loaded.cleanup, {
      source: `${policy}:2`,
      inactivityWindowSeconds: 300,
      taskStatuses: ['COMPLETED'],
      revokeTokens: true,
      rotateCredentials: true,
    });
  });

  it('accepts the policy inline in TESSERA_CONFIG, with several statuses and minutes', function () {
    const config = writeConfig(
      'automaticRevocation:\n  conditions:\n    - taskStatus: [COMPLETED, CANCELLED]\n    - inactivityWindow: 5m\n  actions:\n    - revokeTokens: true\n',
    );
    const loaded = loadConfig({ env: { TESSERA_CONFIG: config, TESSERA_DATA_DIR: path.dirname(config) } });
    assert.deepEqual(loaded.cleanup.taskStatuses, ['COMPLETED', 'CANCELLED']);
    assert.equal(loaded.cleanup.inactivityWindowSeconds, 300);
    assert.equal(loaded.cleanup.rotateCredentials, false);
  });

  it('defaults to a 300 s inactivity window that revokes', function () {
    const loaded = loadConfig({ env: { TESSERA_DATA_DIR: '/tmp/unused' } });
    assert.equal(loaded.cleanup.inactivityWindowSeconds, 300);
    assert.equal(loaded.cleanup.revokeTokens, true);
    assert.equal(loaded.credentials.maxAgeSeconds, 72 * 3600);
  });

  for (const bad of BAD_POLICIES) {
    it(`refuses ${bad.name} with ${'line ' + bad.line}`, function () {
      const { config, policy } = withPolicyFile(bad.text);
      const message = configError(config);
      assert.ok(message.startsWith(`${policy}:${bad.line}: `), `"${message}" names ${policy}:${bad.line}`);
      assert.match(message, bad.reason);
    });
  }

  it('refuses both an inline policy and a policy file', function () {
    const config = writeConfig('automaticRevocation:\n  conditions:\n    - taskStatus: COMPLETED\n  actions:\n    - revokeTokens: true\npolicyFile: other.yaml\n');
    assert.equal(configError(config), `${config}:6: set automaticRevocation or policyFile, not both`);
  });

  it('refuses an inline policy error with the line in TESSERA_CONFIG', function () {
    const config = writeConfig('tiers:\n  high: { sessionLifetimeSeconds: 300 }\nautomaticRevocation:\n  conditions:\n    - taskStatus: completed\n  actions:\n    - revokeTokens: true\n');
    assert.match(configError(config), new RegExp(`^${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: taskStatus must be one of`));
  });

  it('tessera start stops on a bad policy file with one line naming the file, line and reason', async function () {
    const { config, policy } = withPolicyFile(BAD_POLICIES[1]!.text);
    const result = tessera(['start', '--data-dir', path.join(path.dirname(config), 'data')], {
      TESSERA_CONFIG: config,
      TESSERA_PORT: String(await freePort()),
    });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `tessera: ${policy}:3: taskStatus must be one of COMPLETED, FAILED, CANCELLED (got "DONE")\n`);
  });
});
