import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi';
import { testApp } from './checkout/test-support';
import { MERCHANT_EVENT_TYPES } from '../workflows/events/messages';

describe('openApiDocument', () => {
  const doc = openApiDocument();

  it('is OpenAPI 3.1 with the API-key security schemes and the error schema', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components?.securitySchemes ?? {})).toEqual(['bearerAuth', 'apiKeyHeader']);
    expect(doc.components?.schemas?.Error).toBeDefined();
    expect(doc.components?.schemas?.Price).toBeDefined();
  });

  it('documents every route the checkout module serves, and nothing else', () => {
    const { app } = testApp();
    const served = app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item as object)
        .filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k))
        .map((m) => `${m} ${path}`),
    );
    expect(new Set(documented)).toEqual(new Set(served));
    expect(documented.sort()).toEqual(
      [
        'post /v1/checkout-sessions/button-config',
        'post /v1/checkout-sessions',
        'post /v1/checkouts/{checkoutSessionId}/review',
        'get /v1/checkouts/{checkoutSessionId}',
        'post /v1/checkouts/{checkoutSessionId}/amount',
        'post /v1/checkouts/{checkoutSessionId}/complete',
        'post /v1/checkouts/{checkoutSessionId}/charge',
        'post /v1/checkouts/{checkoutSessionId}/capture',
        'post /v1/checkouts/{checkoutSessionId}/cancel',
        'post /v1/checkouts/{checkoutSessionId}/refunds',
        'post /v1/checkouts/{checkoutSessionId}/close',
        'get /v1/return/result',
        'get /v1/checkouts/{checkoutSessionId}/events',
        'post /v1/events/{eventId}/redeliver',
        'get /v1/webhook-endpoints/{endpointId}',
        'post /v1/webhook-endpoints/{endpointId}/enable',
        'get /v1/subscriptions/{subscriptionId}',
        'get /v1/subscriptions/{subscriptionId}/events',
        'post /v1/subscriptions/{subscriptionId}/cancel',
        'post /v1/subscriptions/{subscriptionId}/plan',
        'post /v1/subscriptions/{subscriptionId}/recheckout',
        'post /v1/subscriptions/{subscriptionId}/pause',
        'post /v1/subscriptions/{subscriptionId}/resume',
        'post /v1/subscriptions/{subscriptionId}/cycles/{cycle}/refunds',
        'get /v1/checkouts',
        'get /v1/subscriptions',
      ].sort(),
    );
  });

  it('documents every merchant event type as a webhook with the signed event body', () => {
    const webhooks =
      (doc as { webhooks?: Record<string, { post?: { requestBody?: unknown; description?: string } }> }).webhooks ?? {};
    expect(Object.keys(webhooks).sort()).toEqual([...MERCHANT_EVENT_TYPES].sort());
    for (const [type, item] of Object.entries(webhooks)) {
      expect(JSON.stringify(item.post?.requestBody), type).toContain('#/components/schemas/MerchantEvent');
      expect(item.post?.description, type).toContain('Standard Webhooks');
    }
    expect(JSON.stringify(doc.components?.schemas?.MerchantEvent)).toContain('merchantReferenceId');
  });

  it('storefront routes require an API key; the buyer return handler does not', () => {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(
        item as Record<string, { security?: unknown[]; responses: Record<string, unknown> }>,
      )) {
        if (path.startsWith('/v1/return/')) expect(op.security, `${method} ${path}`).toBeUndefined();
        else {
          expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
          expect(op.responses['401'], `${method} ${path}`).toBeDefined();
        }
        expect(op.responses['400'], `${method} ${path}`).toBeDefined();
      }
    }
  });

  it('request bodies carry the zod constraints (amount pattern, strict objects)', () => {
    const amount = doc.paths?.['/v1/checkouts/{checkoutSessionId}/amount']?.post;
    expect(amount?.requestBody).toBeDefined();
    const json = JSON.stringify(doc.components?.schemas?.FinalAmountRequest);
    expect(json).toContain('"additionalProperties":false');
    expect(JSON.stringify(doc.components?.schemas?.Price)).toContain('AUD');
  });
});
