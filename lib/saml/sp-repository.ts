import type { ServiceProvider } from './service-provider.js';

export interface ServiceProviderRepository {
  /** @throws TesseraError('sp_exists') when the entityID is registered and replace is false. */
  register(sp: ServiceProvider, replace: boolean): Promise<'created' | 'replaced'>;
  get(entityId: string): Promise<ServiceProvider | undefined>;
  list(): Promise<ServiceProvider[]>;
  remove(entityId: string): Promise<boolean>;
}
