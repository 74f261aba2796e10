/**
 * A second writer for the concurrency test: opens the data directory as the
 * command line does and appends `count` audit entries, each in its own
 * transaction, as fast as it can.
 */
import { openSqliteStore } from '../../lib/store/index.js';
import { chainedAuditLog } from '../../lib/audit/index.js';
import { systemClock } from '../../lib/common/clock.js';
import { silentLogger } from '../../lib/common/log.js';

const [dataDir, countText, name] = process.argv.slice(2);
const store = openSqliteStore(dataDir!);
const audit = chainedAuditLog({ store: store.audit, clock: systemClock, logger: silentLogger });
try {
  for (let i = 0; i < Number(countText); i += 1) {
    await audit.record({ event: 'key.rotated', actor: `admin:${name}`, details: { writer: name, i } });
  }
} finally {
  store.close();
}
