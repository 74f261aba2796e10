import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { YamlLocator } from '../config/cleanup-policy.js';

export interface WebhookConfig {
  readonly url: string;
}

export interface AlertsConfig {
  readonly webhooks: readonly WebhookConfig[];
}

export const DEFAULT_ALERTS: AlertsConfig = { webhooks: [] };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `alerts: { webhooks: [ { url: https://… } ] }`. Events are signed, so a receiver
 * can trust them on any transport, but they name agents and owners: https only,
 * except plain http to this machine (a local relay).
 */
export function parseAlertsConfig(node: unknown, at: YamlLocator): AlertsConfig {
  if (!isMap(node)) at.fail(node, 'alerts must be a mapping with webhooks');
  const map = node as YAMLMap;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key !== 'webhooks') at.fail(pair.key, `unknown key "${String(key)}" in alerts (expected webhooks)`);
  }
  const list = map.get('webhooks', true);
  if (list === undefined) return DEFAULT_ALERTS;
  if (!isSeq(list)) at.fail(list, 'alerts.webhooks must be a list of { url }');
  return {
    webhooks: list.items.map((item) => {
      if (!isMap(item)) at.fail(item, 'a webhook is a mapping with url');
      for (const pair of item.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key !== 'url') at.fail(pair.key, `unknown key "${String(key)}" in a webhook (expected url)`);
      }
      const urlNode = item.get('url', true);
      const raw = isScalar(urlNode) && typeof urlNode.value === 'string' ? urlNode.value : undefined;
      let url: URL | undefined;
      try {
        url = raw ? new URL(raw) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)))) {
        at.fail(urlNode ?? item, 'a webhook url must be https (or http to 127.0.0.1/localhost)');
      }
      return { url: url.toString() };
    }),
  };
}
