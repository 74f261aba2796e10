export const BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
  soap: 'urn:oasis:names:tc:SAML:2.0:bindings:SOAP',
  artifact: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact',
} as const;

export interface SpEndpoint {
  readonly binding: string;
  readonly location: string;
  readonly responseLocation: string | undefined;
  /** AssertionConsumerService index; undefined for SLO endpoints. */
  readonly index: number | undefined;
  readonly isDefault: boolean;
}

/** A registered service provider, as read from its metadata by an admin. */
export interface ServiceProvider {
  readonly entityId: string;
  readonly assertionConsumerServices: readonly SpEndpoint[];
  readonly singleLogoutServices: readonly SpEndpoint[];
  /** PEM certificates the SP signs requests with. */
  readonly signingCertificates: readonly string[];
  /** PEM certificates we encrypt assertions to. */
  readonly encryptionCertificates: readonly string[];
  readonly nameIdFormats: readonly string[];
  readonly authnRequestsSigned: boolean;
  readonly wantAssertionsSigned: boolean;
  /** Sign the Response as well as the Assertion (default; `--no-sign-response` clears it). */
  readonly signResponse: boolean;
  readonly metadataXml: string;
  readonly registeredAt: Date;
}
