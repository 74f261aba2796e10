import type { SqliteDatabase } from './database.js';
import { DirectoryCache } from './directory-cache.js';
import type { ServiceProvider } from '../saml/service-provider.js';
import type { ServiceProviderRepository } from '../saml/sp-repository.js';
import { TesseraError } from '../common/errors.js';
import { fromMillis, parseJson, toMillis } from './rows.js';

interface SpRow {
  entity_id: string;
  document: string;
  metadata_xml: string;
  registered_at: number;
}

type SpDocument = Omit<ServiceProvider, 'entityId' | 'metadataXml' | 'registeredAt'>;

function spFromRow(row: SpRow): ServiceProvider {
  return {
    ...parseJson<SpDocument>(row.document),
    entityId: row.entity_id,
    metadataXml: row.metadata_xml,
    registeredAt: fromMillis(row.registered_at),
  };
}

export class SqliteServiceProviderRepository implements ServiceProviderRepository {
  private readonly upsert;
  private readonly insert;
  private readonly byId;
  private readonly all;
  private readonly remove_;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly directory: DirectoryCache = new DirectoryCache(db),
  ) {
    const columns = '(entity_id, document, metadata_xml, registered_at) VALUES (@entityId, @document, @metadataXml, @registeredAt)';
    this.insert = db.prepare(`INSERT INTO service_providers ${columns}`);
    this.upsert = db.prepare(`INSERT OR REPLACE INTO service_providers ${columns}`);
    this.byId = db.prepare<[string], SpRow>('SELECT * FROM service_providers WHERE entity_id = ?');
    this.all = db.prepare<[], SpRow>('SELECT * FROM service_providers ORDER BY entity_id');
    this.remove_ = db.prepare<[string]>('DELETE FROM service_providers WHERE entity_id = ?');
  }

  async register(sp: ServiceProvider, replace: boolean): Promise<'created' | 'replaced'> {
    const { entityId, metadataXml, registeredAt, ...document } = sp;
    const params = { entityId, metadataXml, registeredAt: toMillis(registeredAt), document: JSON.stringify(document) };
    return this.db.transaction((): 'created' | 'replaced' => {
      const exists = this.byId.get(entityId) !== undefined;
      if (exists && !replace) {
        throw new TesseraError('sp_exists', `an SP with entityID ${entityId} is already registered (use --replace to update it)`);
      }
      (exists ? this.upsert : this.insert).run(params);
      return exists ? 'replaced' : 'created';
    }).immediate();
  }

  /** Every sign-on names its SP: kept in memory while the directory is unchanged. */
  async get(entityId: string): Promise<ServiceProvider | undefined> {
    return this.directory.lookup('sp', entityId, () => {
      const row = this.byId.get(entityId);
      return row ? spFromRow(row) : undefined;
    });
  }

  async list(): Promise<ServiceProvider[]> {
    return this.all.all().map(spFromRow);
  }

  async remove(entityId: string): Promise<boolean> {
    return this.remove_.run(entityId).changes === 1;
  }
}
