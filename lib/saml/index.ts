/** What other concerns may use of the SAML layer. */
export { samlRouter, signOnEndpoints, type SamlRouterDeps } from './router.js';
export { parseSpMetadata } from './sp-metadata.js';
export { validateSamlMessage, SAML_MESSAGE_KINDS, type SamlMessageKind } from './schema-validation.js';
export { isXmlSafe } from './xml-escape.js';
export { AGENT_ATTRIBUTE } from './agent-attributes.js';
export type { ServiceProvider, SpEndpoint } from './service-provider.js';
export { BINDINGS } from './service-provider.js';
export type { ServiceProviderRepository } from './sp-repository.js';
export { sendBackChannelLogout, soapLogoutEndpoint, type BackChannelLogout, type BackChannelOutcome } from './back-channel-logout.js';
export { LOGOUT_REASON } from './logout-request.js';
export type { SoapClientOptions } from './soap.js';
export { prepareSchemaValidation } from './schema-validation.js';
