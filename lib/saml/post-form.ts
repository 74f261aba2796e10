import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendHtml } from '../http/responses.js';
import type { Views } from '../http/views.js';

export interface PostFormDelivery {
  /** The SP endpoint (ACS or SLO) the form posts to: always one registered in its metadata. */
  readonly destination: string;
  readonly samlResponse: string;
  readonly relayState: string | undefined;
  readonly spEntityId: string;
}

/**
 * HTTP-POST binding for a browser: an auto-submitting form. Its script runs only
 * with this response's nonce and the form may post only to the destination's origin.
 */
export function sendPostForm(res: ServerResponse, views: Views, status: number, delivery: PostFormDelivery): void {
  const nonce = randomBytes(16).toString('base64');
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; form-action ${new URL(delivery.destination).origin}; base-uri 'none'; frame-ancestors 'none'`,
  );
  sendHtml(
    res,
    status,
    views.render('post-form', {
      acsUrl: delivery.destination,
      samlResponse: delivery.samlResponse,
      relayState: delivery.relayState,
      spEntityId: delivery.spEntityId,
      nonce,
    }),
  );
}
