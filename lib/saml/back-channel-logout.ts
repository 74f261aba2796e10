/** One back-channel logout: a signed LogoutRequest to an SP's SOAP SingleLogoutService, and its outcome. */
import { randomBytes } from 'node:crypto';
import type { SigningKey } from '../keys/index.js';
import { addSeconds } from '../common/clock.js';
import { TesseraError } from '../common/errors.js';
import { buildLogoutRequest } from './logout-request.js';
import { readSoapLogoutResponse } from './logout-response.js';
import { BINDINGS, type ServiceProvider, type SpEndpoint } from './service-provider.js';
import { postSoap, soapEnvelope, type SoapClientOptions } from './soap.js';

export interface BackChannelLogout {
  readonly issuer: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex: string;
  /** urn:oasis:names:tc:SAML:2.0:logout:admin for deprovisioning, …:user for a logout the agent's SP started. */
  readonly reason: string;
  readonly now: Date;
}

export interface BackChannelOutcome {
  readonly requestId: string;
  readonly endpoint: string;
  readonly status: string;
  readonly secondStatus: string | undefined;
}

/** A LogoutRequest is good for five minutes: a retry builds a fresh one. */
const REQUEST_LIFETIME_SECONDS = 300;

/** The SP's SOAP SingleLogoutService, if it publishes one. */
export function soapLogoutEndpoint(sp: ServiceProvider): SpEndpoint | undefined {
  return sp.singleLogoutServices.find((endpoint) => endpoint.binding === BINDINGS.soap);
}

/**
 * Sends one LogoutRequest and reads the SP's LogoutResponse. Anything but an HTTP 2xx
 * answer carrying a LogoutResponse to this request is an error the caller retries.
 */
export async function sendBackChannelLogout(
  endpoint: SpEndpoint,
  logout: BackChannelLogout,
  key: SigningKey,
  client: SoapClientOptions,
): Promise<BackChannelOutcome> {
  const requestId = '_' + randomBytes(20).toString('hex');
  const xml = buildLogoutRequest(
    {
      id: requestId,
      issuer: logout.issuer,
      destination: endpoint.location,
      issueInstant: logout.now,
      notOnOrAfter: addSeconds(logout.now, REQUEST_LIFETIME_SECONDS),
      reason: logout.reason,
      nameId: logout.nameId,
      nameIdFormat: logout.nameIdFormat,
      sessionIndex: logout.sessionIndex,
    },
    key,
  );
  const answer = await postSoap(endpoint.location, soapEnvelope(xml), client);
  if (answer.status < 200 || answer.status > 299) {
    throw new TesseraError('internal', `the SP answered HTTP ${answer.status}`, { internalDetail: answer.body.slice(0, 500) });
  }
  const response = readSoapLogoutResponse(answer.body, client.maxResponseBytes);
  if (response.inResponseTo !== requestId) throw new TesseraError('saml_malformed_request', 'the LogoutResponse does not answer our LogoutRequest (InResponseTo)');
  return { requestId, endpoint: endpoint.location, status: response.status, secondStatus: response.secondStatus };
}
