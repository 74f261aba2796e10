import type { SigningKey } from '../keys/index.js';
import { certificateBody } from '../keys/index.js';
import { isoSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import { BINDINGS } from './service-provider.js';
import { NAMEID_FORMAT, NS } from './namespaces.js';
import { assertId, element, type Markup } from './xml-builder.js';
import { qualified, signEnveloped } from './signing.js';

export interface IdpMetadataInput {
  readonly entityId: string;
  readonly ssoUrl: string;
  readonly sloUrl: string;
  /** PEM, the current certificate first, then any published next one. */
  readonly signingCertificates: readonly string[];
  readonly validUntil: Date;
  readonly id: string;
}

/**
 * The IdP's signed EntityDescriptor. Children follow the order the metadata
 * schema's sequences require (RoleDescriptor, then SSODescriptor, then
 * IDPSSODescriptor), because SPs that validate reject any other order.
 */
export function buildIdpMetadata(input: IdpMetadataInput, key: SigningKey): string {
  assertPublishesSigningKey(input.signingCertificates, key);
  const descriptor = element(
    'md:EntityDescriptor',
    {
      'xmlns:md': NS.metadata,
      'xmlns:ds': NS.xmldsig,
      ID: assertId(input.id),
      validUntil: isoSeconds(input.validUntil),
      entityID: input.entityId,
    },
    [idpSsoDescriptor(input)],
  );
  return signEnveloped(descriptor.toString(), { element: `/${qualified(NS.metadata, 'EntityDescriptor')}` }, key);
}

function idpSsoDescriptor(input: IdpMetadataInput): Markup {
  return element('md:IDPSSODescriptor', { protocolSupportEnumeration: NS.protocol, WantAuthnRequestsSigned: 'false' }, [
    ...input.signingCertificates.map(signingKeyDescriptor),
    endpoint('md:SingleLogoutService', BINDINGS.redirect, input.sloUrl),
    endpoint('md:SingleLogoutService', BINDINGS.post, input.sloUrl),
    element('md:NameIDFormat', {}, [NAMEID_FORMAT.persistent]),
    element('md:NameIDFormat', {}, [NAMEID_FORMAT.transient]),
    endpoint('md:SingleSignOnService', BINDINGS.redirect, input.ssoUrl),
    endpoint('md:SingleSignOnService', BINDINGS.post, input.ssoUrl),
  ]);
}

function signingKeyDescriptor(certificatePem: string): Markup {
  return element('md:KeyDescriptor', { use: 'signing' }, [
    element('ds:KeyInfo', {}, [element('ds:X509Data', {}, [element('ds:X509Certificate', {}, [certificateBody(certificatePem)])])]),
  ]);
}

function endpoint(name: string, binding: string, location: string): Markup {
  return element(name, { Binding: binding, Location: location });
}

/** Metadata signed by a key it does not publish would fail at every SP. */
function assertPublishesSigningKey(certificates: readonly string[], key: SigningKey): void {
  if (!certificates.some((pem) => certificateBody(pem) === key.certificateBase64)) {
    throw new TesseraError('internal', 'IdP metadata must publish the certificate of the key that signs it', {
      internalDetail: `signing key ${key.id} is not among ${certificates.length} published certificates`,
    });
  }
}
