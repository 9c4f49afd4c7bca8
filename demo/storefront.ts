/**
 * DEMO ONLY - not part of the product. A tiny merchant shop so a person who ran `npm start` can
 * click through a real Amazon Pay checkout: product page with the Amazon Pay button, review page,
 * place order, result page and an order page with capture / refund / cancel / close.
 *
 * It plays the merchant's web server: every call to the payment API is made here, server-side,
 * with the API key, which never reaches the browser. Server-rendered HTML, no build step. The cart
 * travels in the URL (a real shop keeps it in a session; the amounts are recomputed server-side
 * from the catalogue, so a tampered URL can only change quantities).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type {
  ButtonConfigSchema,
  ChargeSummarySchema,
  CheckoutStatusSchema,
  CompletionOutcomeSchema,
  FinalAmountResultSchema,
  RefundSummarySchema,
  ReviewSchema,
} from '../api/checkout/schemas';
import { checkoutWorkflowId } from '../workflows/checkout-messages';
import { Webhook } from 'standardwebhooks';
import type { MerchantEvent } from '../workflows/events/messages';
import { html, jsonForScript, type SafeHtml } from './html';

type ButtonConfig = z.infer<typeof ButtonConfigSchema>;
type Review = z.infer<typeof ReviewSchema>;
type Outcome = z.infer<typeof CompletionOutcomeSchema>;
type Status = z.infer<typeof CheckoutStatusSchema>;
type Charge = z.infer<typeof ChargeSummarySchema>;
type Refund = z.infer<typeof RefundSummarySchema>;

export interface DemoStorefrontOptions {
  /** Base URL of our payment API, e.g. http://127.0.0.1:3000. */
  apiUrl: string;
  /** Sent as Bearer token by this server only; never rendered. */
  apiKey: string;
  /** Amazon's checkout.js, or the simulator's stand-in `<simulator>/checkout.js`. */
  amazonPayScriptUrl: string;
  /** Where the buyer's browser reaches this storefront (Amazon redirects back here). */
  publicUrl: string;
  /** Temporal Web UI base URL for workflow links (default http://127.0.0.1:8233); null hides the links. */
  temporalUiUrl?: string | null;
  /** Temporal namespace for the links (default "default"). */
  temporalNamespace?: string;
  /** renderButton's merchantId (default the simulator's A2SIMULATORMRCH). */
  merchantId?: string;
  /** The secret the payment service signs its webhooks with; set: POST /webhooks receives them. */
  webhookSecret?: string;
  fetch?: typeof fetch;
}

const CURRENCY = 'USD';
const STORE_NAME = 'Temporal Demo Shop';
const PRODUCTS = [
  { sku: 'mug', name: 'Durable Execution mug', cents: 1450 },
  { sku: 'tee', name: 'Workflow T-shirt', cents: 2400 },
] as const;
type Cart = Record<string, number>;

// ---- money and cart (integer cents) ----
const money = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
const qty = (v: string | undefined) => Math.max(0, Math.min(10, Number.parseInt(v ?? '', 10) || 0));
const cartParam = (cart: Cart) =>
  PRODUCTS.filter((p) => (cart[p.sku] ?? 0) > 0)
    .map((p) => `${p.sku}:${cart[p.sku]}`)
    .join(',');
function parseCart(param: string | undefined): Cart {
  const cart: Cart = {};
  for (const part of (param ?? '').split(',')) {
    const [sku, n] = part.split(':');
    if (PRODUCTS.some((p) => p.sku === sku)) cart[sku!] = qty(n);
  }
  return cart;
}
function totals(cart: Cart) {
  const subtotal = PRODUCTS.reduce((sum, p) => sum + p.cents * (cart[p.sku] ?? 0), 0);
  const shipping = subtotal === 0 || subtotal >= 5000 ? 0 : 499; // free from $50
  const tax = Math.round(subtotal * 0.0825); // a flat 8.25 %
  return { subtotal, shipping, tax, total: subtotal + shipping + tax };
}

// ---- the payment API, server-side ----
export class DemoApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function apiClient(o: DemoStorefrontOptions) {
  const base = o.apiUrl.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;
  return async function call<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        redirect: 'manual',
        signal: AbortSignal.timeout(60_000),
        headers: {
          authorization: `Bearer ${o.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new DemoApiError(
        502,
        'api_unreachable',
        `could not reach the payment API at ${base} (${(err as Error).message})`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new DemoApiError(
        res.status,
        e?.code ?? `http_${res.status}`,
        e?.message ?? `the payment API answered HTTP ${res.status}`,
      );
    }
    return parsed as T;
  };
}

// ---- pages ----
const page = (title: string, body: SafeHtml) => html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} - ${STORE_NAME} (demo)</title>
<style>body{font-family:sans-serif;max-width:44rem;margin:1rem auto;padding:0 1rem}.demo{background:#fff3cd;border:1px solid #e0c060;padding:.5rem}
.error{background:#fde2e1;border:1px solid #d9534f;padding:.5rem}.ok{background:#e3f6e5;border:1px solid #5cb85c;padding:.5rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}form.inline{display:inline-block;margin:.25rem}</style></head>
<body><p class="demo"><strong>Demo storefront</strong> - not part of the product. It plays a merchant's shop and calls the payment API server-side.</p>
<h1>${title}</h1>${body}<p><a href="/">Back to the shop</a></p></body></html>`;

const DONE: Record<string, string> = {
  capture: 'Captured.',
  refund: 'Refund requested.',
  cancel: 'Authorization canceled.',
  close: 'Order closed.',
};

export function createDemoStorefront(options: DemoStorefrontOptions): Hono {
  const call = apiClient(options);
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const uiUrl = options.temporalUiUrl === undefined ? 'http://127.0.0.1:8233' : options.temporalUiUrl;
  const namespace = options.temporalNamespace ?? 'default';
  const path = (id: string) => `/v1/checkouts/${encodeURIComponent(id)}`;
  const orderUrl = (id: string) => `/orders/${encodeURIComponent(id)}`;

  const workflowLink = (id: string) =>
    uiUrl
      ? html`<p><a href="${`${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(checkoutWorkflowId(id))}`}">See the checkout workflow in the Temporal Web UI</a></p>`
      : html``;

  const actions = (id: string, status: string, final: boolean) => {
    const form = (action: string, label: string, extra: SafeHtml = html``) =>
      html`<form class="inline" method="POST" action="${orderUrl(id)}/${action}"><input type="hidden" name="idempotencyKey" value="${`demo-${randomUUID()}`}">${extra}<button type="submit">${label}</button></form>`;
    return html`<div>
${status === 'Authorized' ? form('capture', 'Capture') : ''}
${status === 'Authorized' || status === 'AuthorizationPending' ? form('cancel', 'Cancel authorization') : ''}
${status === 'Captured' ? form('refund', 'Refund', html`<input name="amount" value="5.00" size="6"> ${CURRENCY} `) : ''}
${final ? '' : form('close', 'Close order')}
</div>`;
  };

  const chargeRows = (charge: Charge | null) =>
    charge
      ? html`<tr><th>Charge</th><td>${charge.chargeId}: ${charge.state}${charge.reasonCode ? ` (${charge.reasonCode})` : ''}</td></tr>
<tr><th>Captured</th><td>${charge.capturedAmount ? `${charge.capturedAmount.amount} ${charge.capturedAmount.currencyCode}` : '-'}</td></tr>
<tr><th>Refunded</th><td>${charge.refundedAmount ? `${charge.refundedAmount.amount} ${charge.refundedAmount.currencyCode}` : '-'}</td></tr>`
      : html`<tr><th>Charge</th><td>-</td></tr>`;
  const refundRows = (refunds: Refund[]) =>
    refunds.map(
      (r) =>
        html`<tr><th>Refund ${r.number}</th><td>${r.refundId}: ${r.amount.amount} ${r.amount.currencyCode}, ${r.state}</td></tr>`,
    );

  // The webhooks this shop received, newest first, deduplicated by webhook-id (demo: kept in memory).
  const received: MerchantEvent[] = [];
  const webhookRows = (checkoutSessionId: string) => {
    const mine = received.filter((e) => e.data.checkoutSessionId === checkoutSessionId).slice(0, 20);
    if (!options.webhookSecret) return html``;
    return html`<h2>Webhooks received</h2>${mine.length === 0 ? html`<p>None yet.</p>` : html`<table>${mine.map((e) => html`<tr><th>${e.type}</th><td>${e.timestamp} <small>${e.id}</small></td></tr>`)}</table>`}`;
  };

  const app = new Hono();

  if (options.webhookSecret) {
    const verifier = new Webhook(options.webhookSecret);
    app.post('/webhooks', async (c) => {
      const body = await c.req.text();
      let event: MerchantEvent;
      try {
        // What the README tells merchants: verify with the standardwebhooks package before trusting a byte.
        event = verifier.verify(body, Object.fromEntries(c.req.raw.headers)) as MerchantEvent;
      } catch {
        return c.text('invalid signature', 400);
      }
      if (!received.some((e) => e.id === event.id)) received.unshift(event);
      received.length = Math.min(received.length, 200);
      return c.body(null, 204);
    });
  }

  app.onError((err, c) => {
    const status = err instanceof DemoApiError ? (err.status >= 400 && err.status < 500 ? err.status : 502) : 500;
    const message =
      err instanceof DemoApiError
        ? `${err.message} (${err.code}, HTTP ${err.status})`
        : 'Unexpected error in the demo storefront.';
    if (!(err instanceof DemoApiError)) console.error('[demo storefront]', err);
    return c.html(
      page('Something went wrong', html`<p class="error">${message}</p>`).toString(),
      status as ContentfulStatusCode,
    );
  });

  const requiredId = (value: string | undefined): string => {
    if (!value)
      throw new DemoApiError(400, 'missing_checkout_session', 'amazonCheckoutSessionId is missing from the URL');
    return value;
  };

  app.get('/', async (c) => {
    const q = c.req.query();
    const cart: Cart = Object.keys(q).some((k) => PRODUCTS.some((p) => p.sku === k))
      ? Object.fromEntries(PRODUCTS.map((p) => [p.sku, qty(q[p.sku])]))
      : { mug: 1, tee: 0 };
    const ref = q.ref || `demo-${randomUUID().slice(0, 8)}`;
    const { subtotal } = totals(cart);
    let button = html`<p>Your cart is empty.</p>`;
    if (subtotal > 0) {
      const review = new URL(`${publicUrl}/review`);
      review.searchParams.set('cart', cartParam(cart));
      review.searchParams.set('ref', ref);
      const config = await call<ButtonConfig>('POST', '/v1/checkout-sessions/button-config', {
        amount: { amount: money(subtotal), currencyCode: CURRENCY },
        checkoutReviewReturnUrl: review.toString(),
        checkoutCancelUrl: `${publicUrl}/`,
        merchantReferenceId: ref,
        merchantStoreName: STORE_NAME,
        productType: 'PayAndShip',
      });
      const renderButton = {
        merchantId: options.merchantId ?? 'A2SIMULATORMRCH',
        publicKeyId: config.publicKeyId,
        ledgerCurrency: CURRENCY,
        checkoutLanguage: 'en_US',
        productType: 'PayAndShip',
        placement: 'Cart',
        buttonColor: 'Gold',
        estimatedOrderAmount: config.estimatedOrderAmount,
        createCheckoutSessionConfig: {
          payloadJSON: config.payloadJSON,
          signature: config.signature,
          publicKeyId: config.publicKeyId,
          algorithm: config.algorithm,
        },
      };
      button = html`<div id="AmazonPayButton"></div>
<script type="application/json" id="amazon-pay-button-config">${jsonForScript(renderButton)}</script>
<script src="${options.amazonPayScriptUrl}"></script>
<script>amazon.Pay.renderButton('#AmazonPayButton', JSON.parse(document.getElementById('amazon-pay-button-config').textContent));</script>`;
    }
    return c.html(
      page(
        'Shop',
        html`<form method="GET" action="/"><table><tr><th>Product</th><th>Price</th><th>Quantity</th></tr>
${PRODUCTS.map((p) => html`<tr><td>${p.name}</td><td>${money(p.cents)} ${CURRENCY}</td><td><input type="number" name="${p.sku}" min="0" max="10" value="${cart[p.sku] ?? 0}"></td></tr>`)}
</table><input type="hidden" name="ref" value="${ref}"><button type="submit">Update cart</button></form>
<p>Order reference <code>${ref}</code> - cart total <strong>${money(subtotal)} ${CURRENCY}</strong> (shipping and tax on the next page)</p>
${button}`,
      ).toString(),
    );
  });

  app.get('/review', async (c) => {
    const id = requiredId(c.req.query('amazonCheckoutSessionId'));
    const cart = parseCart(c.req.query('cart'));
    const ref = c.req.query('ref') || `demo-${randomUUID().slice(0, 8)}`;
    const review = await call<Review>('POST', `${path(id)}/review`, { merchantReferenceId: ref });
    if (review.state !== 'Open') {
      return c.html(
        page(
          'Review',
          html`<p class="error">This checkout is ${review.state}.</p><p><a href="${orderUrl(id)}">See the order</a></p>`,
        ).toString(),
        409,
      );
    }
    const t = totals(cart);
    const address = review.shippingAddress ?? {};
    const addressLines = [
      'name',
      'addressLine1',
      'addressLine2',
      'addressLine3',
      'city',
      'stateOrRegion',
      'postalCode',
      'countryCode',
    ]
      .map((k) => address[k])
      .filter((v): v is string => typeof v === 'string' && v !== '');
    return c.html(
      page(
        'Review your order',
        html`<table>
<tr><th>Buyer</th><td>${review.buyer?.name ?? '-'} ${review.buyer?.email ? `<${review.buyer.email}>` : ''}</td></tr>
<tr><th>Ship to</th><td>${addressLines.map((l, i) => html`${i ? html`<br>` : ''}${l}`)}</td></tr>
<tr><th>Pay with</th><td>${review.paymentDescriptor ?? '-'}</td></tr>
</table>
<h2>Items</h2><table>
${PRODUCTS.filter((p) => (cart[p.sku] ?? 0) > 0).map((p) => html`<tr><td>${cart[p.sku]} x ${p.name}</td><td>${money(p.cents * (cart[p.sku] ?? 0))}</td></tr>`)}
<tr><th>Subtotal</th><td>${money(t.subtotal)}</td></tr><tr><th>Shipping</th><td>${money(t.shipping)}</td></tr>
<tr><th>Tax (8.25 %)</th><td>${money(t.tax)}</td></tr><tr><th>Total</th><td><strong>${money(t.total)} ${CURRENCY}</strong></td></tr></table>
<form method="POST" action="/place-order"><input type="hidden" name="amazonCheckoutSessionId" value="${id}">
<input type="hidden" name="cart" value="${cartParam(cart)}"><input type="hidden" name="ref" value="${ref}">
<p><button type="submit"${t.total > 0 ? '' : ' disabled'}>Place order</button></p></form>
<p>Order reference <code>${ref}</code></p>${workflowLink(id)}`,
      ).toString(),
    );
  });

  app.post('/place-order', async (c) => {
    const form = await c.req.parseBody();
    const id = requiredId(typeof form.amazonCheckoutSessionId === 'string' ? form.amazonCheckoutSessionId : undefined);
    const { total } = totals(parseCart(typeof form.cart === 'string' ? form.cart : undefined));
    if (total === 0) throw new DemoApiError(400, 'empty_cart', 'the cart is empty');
    const ref = typeof form.ref === 'string' && form.ref ? form.ref : `demo-${randomUUID().slice(0, 8)}`;
    const { amazonPayRedirectUrl } = await call<z.infer<typeof FinalAmountResultSchema>>('POST', `${path(id)}/amount`, {
      chargeAmount: { amount: money(total), currencyCode: CURRENCY },
      paymentIntent: 'Authorize',
      canHandlePendingAuthorization: false,
      merchantReferenceId: ref,
      merchantStoreName: STORE_NAME,
      checkoutResultReturnUrl: `${publicUrl}/result`,
    });
    return c.redirect(amazonPayRedirectUrl, 303);
  });

  app.get('/result', async (c) => {
    const id = requiredId(c.req.query('amazonCheckoutSessionId'));
    let outcome: Outcome;
    try {
      outcome = await call<Outcome>('GET', `/v1/return/result?amazonCheckoutSessionId=${encodeURIComponent(id)}`);
    } catch (err) {
      // With resultRedirectUrl configured the buyer-facing handler answers 303; the storefront-forwarded
      // complete has the same semantics (same memoized outcome, one Complete at Amazon) and answers JSON.
      if (!(err instanceof DemoApiError && err.status >= 300 && err.status < 400)) throw err;
      outcome = await call<Outcome>('POST', `${path(id)}/complete`);
    }
    // The outcome is memoized (a refresh gets the same answer); the actions follow the current status.
    const current = outcome.completed ? await call<Status>('GET', path(id)) : { status: outcome.status, final: true };
    const body = outcome.completed
      ? html`<p class="ok">Thank you! Payment <strong>${outcome.status}</strong>.</p>
<table><tr><th>Checkout</th><td>${id}</td></tr><tr><th>Charge permission</th><td>${outcome.chargePermissionId}</td></tr>
<tr><th>Charge</th><td>${outcome.chargeId ?? '-'} ${outcome.chargeState ? `(${outcome.chargeState})` : ''}</td></tr></table>
<h2>Merchant actions</h2>${actions(id, current.status, current.final)}`
      : html`<p class="error">The payment was not completed: <strong>${outcome.status}</strong>${outcome.reasonCode ? ` (${outcome.reasonCode})` : ''}. ${outcome.message}</p>`;
    return c.html(
      page(
        'Order result',
        html`${body}<p><a href="${orderUrl(id)}">Order status</a></p>${workflowLink(id)}`,
      ).toString(),
    );
  });

  app.get('/orders/:id', async (c) => {
    const id = c.req.param('id');
    const s = await call<Status>('GET', path(id));
    const done = DONE[c.req.query('done') ?? ''];
    return c.html(
      page(
        'Order status',
        html`${done ? html`<p class="ok">${done}</p>` : ''}<table>
<tr><th>Checkout</th><td>${s.checkoutSessionId}</td></tr>
<tr><th>Status</th><td><strong>${s.status}</strong>${s.final ? ' (final)' : ''}</td></tr>
<tr><th>Order reference</th><td>${s.merchantReferenceId ?? '-'}</td></tr>
<tr><th>Amount</th><td>${s.chargeAmount ? `${s.chargeAmount.amount} ${s.chargeAmount.currencyCode}` : '-'} ${s.paymentIntent ? `(${s.paymentIntent})` : ''}</td></tr>
<tr><th>Charge permission</th><td>${s.chargePermissionId ?? '-'}</td></tr>
${chargeRows(s.charge)}${refundRows(s.refunds)}
<tr><th>Authorization expires</th><td>${s.deadlines.authorizationExpiresAt ?? '-'}</td></tr>
<tr><th>Last reason code</th><td>${s.lastReasonCode ?? '-'}</td></tr>
<tr><th>Updated</th><td>${s.updatedAt}</td></tr></table>
<h2>Merchant actions</h2>${actions(id, s.status, s.final)}${webhookRows(id)}<p><a href="${orderUrl(id)}">Refresh</a></p>${workflowLink(id)}`,
      ).toString(),
    );
  });

  app.post('/orders/:id/:action{capture|refund|cancel|close}', async (c) => {
    const id = c.req.param('id');
    const action = c.req.param('action');
    const form = await c.req.parseBody();
    const key = typeof form.idempotencyKey === 'string' && form.idempotencyKey ? form.idempotencyKey : undefined;
    const reason = { reason: 'Demo storefront' };
    if (action === 'capture') await call('POST', `${path(id)}/capture`, {}, key);
    if (action === 'cancel') await call('POST', `${path(id)}/cancel`, reason, key);
    if (action === 'close') await call('POST', `${path(id)}/close`, reason, key);
    if (action === 'refund') {
      const amount = typeof form.amount === 'string' ? form.amount.trim() : '';
      await call('POST', `${path(id)}/refunds`, { amount: { amount, currencyCode: CURRENCY } }, key);
    }
    return c.redirect(`${orderUrl(id)}?done=${action}`, 303);
  });

  return app;
}

export interface RunningDemoStorefront {
  url: string;
  close(): Promise<void>;
}

/** Serves the storefront; publicUrl defaults to http://<hostname>:<port actually bound>. */
export async function startDemoStorefront(
  options: Omit<DemoStorefrontOptions, 'publicUrl'> & { publicUrl?: string; port: number; hostname?: string },
): Promise<RunningDemoStorefront> {
  const hostname = options.hostname ?? '127.0.0.1';
  // The app needs the bound port for its public URL, so it is created once the server listens.
  const current: { app?: Hono } = {};
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: (req) => current.app!.fetch(req), hostname, port: options.port }, () =>
      resolve(s as Server),
    );
    s.once('error', reject);
  });
  const address = server.address();
  const url = `http://${hostname}:${typeof address === 'object' && address ? address.port : options.port}`;
  current.app = createDemoStorefront({ ...options, publicUrl: options.publicUrl ?? url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
