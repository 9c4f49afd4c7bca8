/**
 * The demo storefront (demo/, not part of the product) driven over HTTP like a browser, against
 * our API, the Amazon Pay simulator, a worker and the real Temporal dev server: product page ->
 * Amazon Pay button -> review -> place order -> pay -> result -> capture -> order page -> refund.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { html, jsonForScript } from '../../demo/html';
import { startDemoStorefront, type RunningDemoStorefront } from '../../demo/storefront';
import { startTestStack, type TestStack } from '../support/stack';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { newSecret } from '../events/receiver';

let stack: TestStack;
let shop: RunningDemoStorefront;
const UI = 'http://ui.example:8233';

const webhookSecret = newSecret();

/** A port nobody listens on yet: the worker must know the shop's webhook URL before the shop starts. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  stack = await startTestStack({
    simulator: { delays: { refundMs: 300 } },
    webhooks: {
      endpoints: [{ id: 'demo-storefront', url: `http://127.0.0.1:${port}/webhooks`, secrets: [webhookSecret] }],
      retryScheduleMs: [200, 500, 1000],
      timeoutMs: 5_000,
    },
  });
  shop = await startDemoStorefront({
    apiUrl: stack.apiUrl,
    apiKey: stack.apiKey,
    amazonPayScriptUrl: `${stack.simulator.url}/checkout.js`,
    temporalUiUrl: UI,
    temporalNamespace: stack.namespace,
    port,
    webhookSecret,
  });
});
afterAll(async () => {
  await shop?.close();
  await stack?.[Symbol.asyncDispose]();
});

interface Page {
  status: number;
  location: string | null;
  body: string;
}

async function browse(url: string, form?: Record<string, string>): Promise<Page> {
  const res = await fetch(url, {
    redirect: 'manual',
    ...(form
      ? {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form).toString(),
        }
      : {}),
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

const unescape = (s: string) =>
  s.replace(
    /&(lt|gt|quot|#39|amp);/g,
    (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e] ?? '',
  );

/** The form posting to `action` (a path prefix), with its hidden and text inputs, as a browser would submit it. */
function form(page: string, action: string): { action: string; fields: Record<string, string> } {
  const match = [...page.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].find((m) =>
    unescape(m[1]!).startsWith(action),
  );
  if (!match) throw new Error(`no form posting to ${action} in:\n${page}`);
  const fields: Record<string, string> = {};
  for (const input of match[2]!.matchAll(/<input([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(input[1]!)?.[1];
    const value = /value="([^"]*)"/.exec(input[1]!)?.[1];
    if (name) fields[unescape(name)] = unescape(value ?? '');
  }
  return { action: unescape(match[1]!), fields };
}

function buttonConfig(page: string) {
  const json = /<script type="application\/json" id="amazon-pay-button-config">([^<]*)<\/script>/.exec(page)?.[1];
  if (!json) throw new Error(`no button config in:\n${page}`);
  return JSON.parse(json) as {
    merchantId: string;
    placement: string;
    ledgerCurrency: string;
    createCheckoutSessionConfig: { payloadJSON: string; signature: string; publicKeyId: string; algorithm: string };
  };
}

/** Shop page -> the buyer clicks the Amazon Pay button at the simulator; answers the review URL. */
async function clickAmazonPay(query: string): Promise<{ id: string; reviewUrl: string; shopPage: string }> {
  const shopPage = await browse(`${shop.url}/${query}`);
  expect(shopPage.status, shopPage.body).toBe(200);
  const { checkoutSessionId, location } = await stack.admin.clickButton(
    buttonConfig(shopPage.body).createCheckoutSessionConfig,
  );
  expect(location.startsWith(`${shop.url}/review?`)).toBe(true);
  return { id: checkoutSessionId, reviewUrl: location, shopPage: shopPage.body };
}

describe('demo storefront', () => {
  it('a buyer clicks through a whole checkout; the merchant captures once and refunds part', async () => {
    const { id, reviewUrl, shopPage } = await clickAmazonPay('?mug=2&tee=1');
    expect(shopPage).toContain(`<script src="${stack.simulator.url}/checkout.js"></script>`);
    expect(shopPage).toContain("amazon.Pay.renderButton('#AmazonPayButton'");
    expect(shopPage).not.toContain(stack.apiKey);
    expect(buttonConfig(shopPage)).toMatchObject({
      merchantId: 'A2SIMULATORMRCH',
      placement: 'Cart',
      ledgerCurrency: 'USD',
    });

    // Review: buyer, address and payment method from Amazon; 2 x 14.50 + 24.00 = 53.00, free shipping, 8.25 % tax.
    const review = await browse(reviewUrl);
    expect(review.status, review.body).toBe(200);
    expect(review.body).toContain('Jane Doe');
    expect(review.body).toContain('Visa ****1111');
    expect(review.body).toContain('57.37 USD');
    expect(review.body).toContain(`${UI}/namespaces/${stack.namespace}/workflows/checkout-${id}`);

    // Place order -> the browser goes to Amazon's payment page -> pays -> back to our result page.
    const placeOrder = form(review.body, '/place-order');
    const placed = await browse(`${shop.url}${placeOrder.action}`, placeOrder.fields);
    expect(placed.status, placed.body).toBe(303);
    expect(placed.location!.startsWith(`${stack.simulator.url}/checkout/pay/${id}`)).toBe(true);
    const { location: resultUrl } = await stack.admin.pay(placed.location!, 'happy');
    expect(resultUrl).toBe(`${shop.url}/result?amazonCheckoutSessionId=${id}`);

    const result = await browse(resultUrl);
    expect(result.status, result.body).toBe(200);
    expect(result.body).toContain('Payment <strong>Authorized</strong>');
    // A refresh of the result page gets the same answer.
    expect((await browse(resultUrl)).body).toContain('Payment <strong>Authorized</strong>');

    // Capture; a double click (the same form, so the same idempotency key) moves no more money.
    const capture = form(result.body, `/orders/${id}/capture`);
    for (let i = 0; i < 2; i++) {
      const captured = await browse(`${shop.url}${capture.action}`, capture.fields);
      expect(captured.status, captured.body).toBe(303);
      expect(captured.location).toBe(`/orders/${id}?done=capture`);
    }
    const order = await browse(`${shop.url}/orders/${id}?done=capture`);
    expect(order.status, order.body).toBe(200);
    expect(order.body).toContain('<strong>Captured</strong>');
    expect(order.body).toMatch(/<th>Captured<\/th><td>57\.37 USD<\/td>/);
    // A later refresh of the result page offers the actions of the current status: no second capture.
    const refreshed = await browse(resultUrl);
    expect(refreshed.body).not.toContain(`/orders/${id}/capture`);
    expect(refreshed.body).toContain(`/orders/${id}/refund`);
    const moved = await stack.admin.moneyMovements({ checkoutSessionId: id });
    expect(moved.movements.filter((m) => m.kind === 'capture')).toEqual([
      expect.objectContaining({ amount: '57.37', currencyCode: 'USD' }),
    ]);

    // Partial refund from the order page.
    const refund = form(order.body, `/orders/${id}/refund`);
    expect(refund.fields.amount).toBe('5.00');
    const refunded = await browse(`${shop.url}${refund.action}`, refund.fields);
    expect(refunded.status, refunded.body).toBe(303);
    const after = await browse(`${shop.url}/orders/${id}`);
    expect(after.body).toMatch(/<th>Refund 1<\/th><td>[^<]*: 5\.00 USD, (RefundInitiated|Refunded)<\/td>/);

    // The shop received the payment service's webhooks, verified them, and shows them on the order page.
    const deadline = Date.now() + 20_000;
    let withEvents = after.body;
    while (!withEvents.includes('refund.succeeded') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      withEvents = (await browse(`${shop.url}/orders/${id}`)).body;
    }
    for (const type of [
      'checkout.completed',
      'payment.authorized',
      'payment.captured',
      'refund.pending',
      'refund.succeeded',
    ])
      expect(withEvents).toContain(`<th>${type}</th>`);
    const forged = await fetch(`${shop.url}/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'evt_x_1',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,Zm9yZ2Vk',
      },
      body: JSON.stringify({ id: 'evt_x_1', type: 'payment.captured', data: { checkoutSessionId: id } }),
    });
    expect(forged.status).toBe(400);
  });

  it('escapes every value it renders: an order reference with <script> stays text', async () => {
    const evil = `<script>alert("x")</script>'&`;
    const { id, reviewUrl, shopPage } = await clickAmazonPay(`?mug=1&ref=${encodeURIComponent(evil)}`);
    expect(shopPage).not.toContain('<script>alert');
    expect(shopPage).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;');
    // The signed payload carries it unchanged (the signature still verified at the simulator).
    expect(
      JSON.parse(buttonConfig(shopPage).createCheckoutSessionConfig.payloadJSON).merchantMetadata.merchantReferenceId,
    ).toBe(evil);

    const review = await browse(reviewUrl);
    expect(review.status, review.body).toBe(200);
    expect(review.body).not.toContain('<script>alert');
    expect(form(review.body, '/place-order').fields.ref).toBe(evil);

    const order = await browse(`${shop.url}/orders/${id}`);
    expect(order.status, order.body).toBe(200);
    expect(order.body).toContain('<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;</td>');
    expect(order.body).not.toContain('<script>alert');

    // The template itself.
    expect(html`<p title="${'"><b>'}">${['<i>', html`<b>${'&'}</b>`]}${null}${false}${0}</p>`.toString()).toBe(
      '<p title="&quot;&gt;&lt;b&gt;">&lt;i&gt;<b>&amp;</b>0</p>',
    );
    expect(jsonForScript({ v: '</script><!--&' }).toString()).toBe('{"v":"\\u003c/script\\u003e\\u003c!--\\u0026"}');
  });

  it('shows errors from the API as messages, never stack traces', async () => {
    const expectMessage = (page: Page, status: number, text: string) => {
      expect(page.status, page.body).toBe(status);
      expect(page.body).toContain('class="error"');
      expect(page.body).toContain(text);
      expect(page.body).not.toMatch(/\n\s+at /);
    };

    // Unknown order: the API's 404 message.
    expectMessage(await browse(`${shop.url}/orders/no-such-checkout`), 404, 'HTTP 404');

    // Capture before the buyer paid: the workflow refuses, the page says why.
    const { id, reviewUrl } = await clickAmazonPay('?tee=1');
    expect((await browse(reviewUrl)).status).toBe(200);
    const early = await browse(`${shop.url}/orders/${id}/capture`, { idempotencyKey: 'demo-early' });
    expectMessage(early, 409, 'InvalidChargeStatus');

    // A refund amount the API rejects.
    expectMessage(
      await browse(`${shop.url}/orders/${id}/refund`, { amount: 'lots', idempotencyKey: 'demo-refund-lots' }),
      400,
      'validation_error',
    );

    // Wrong API key, and an API that is not there.
    const wrongKey = await startDemoStorefront({
      apiUrl: stack.apiUrl,
      apiKey: 'nope',
      amazonPayScriptUrl: 'http://x/checkout.js',
      port: 0,
    });
    const down = await startDemoStorefront({
      apiUrl: 'http://127.0.0.1:1',
      apiKey: stack.apiKey,
      amazonPayScriptUrl: 'http://x/checkout.js',
      port: 0,
    });
    try {
      expectMessage(await browse(`${wrongKey.url}/`), 401, 'the API key is not valid');
      expectMessage(await browse(`${down.url}/`), 502, 'could not reach the payment API');
      expectMessage(await browse(`${down.url}/result`), 400, 'amazonCheckoutSessionId is missing');
    } finally {
      await wrongKey.close();
      await down.close();
    }
  });
});
