import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { SimulatorEngine } from './engine';
import { AmazonPayApiError, BuyerPageError } from './errors';
import { type Environment, PAYMENT_METHOD_CHOICES, PAYMENT_METHODS, type PaymentMethodChoice } from './model';
import { createCheckoutSessionSchema, parseBody } from './schemas';
import { type PublicKeyRegistry, verifyButtonSignature } from './signature';

/**
 * The buyer's side of Amazon Pay: the button target, sign-in, the amazonPayRedirectUrl payment
 * page and the account page for recurring permissions. Plain HTML forms, so a person can click
 * through them and the admin client can drive them over HTTP like a browser.
 */
export interface BuyerDeps {
  engine: SimulatorEngine;
  keys: PublicKeyRegistry;
  defaultEnvironment: Environment;
  publicBaseUrl: () => string | undefined;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} – Amazon Pay simulator</title>
<style>body{font-family:sans-serif;max-width:40rem;margin:2rem auto}fieldset{margin:1rem 0}button{margin:.3rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

const buttonFormSchema = z.object({
  payloadJSON: z.string().min(2),
  signature: z.string().min(1),
  publicKeyId: z.string().min(1),
  algorithm: z.string().default('AMZN-PAY-RSASSA-PSS'),
});

const methodFormSchema = z.object({
  method: z
    .union([z.enum(PAYMENT_METHOD_CHOICES as [PaymentMethodChoice, ...PaymentMethodChoice[]]), z.literal('cancel')])
    .default('happy'),
});

async function formOrQuery(c: Context): Promise<Record<string, unknown>> {
  if (c.req.method === 'GET') return c.req.query();
  const body = await c.req.parseBody();
  return { ...c.req.query(), ...body };
}

export function createBuyerRoutes(deps: BuyerDeps): Hono {
  const app = new Hono();
  const { engine } = deps;

  app.onError((error, c) => {
    if (error instanceof BuyerPageError || error instanceof AmazonPayApiError) {
      const status = error instanceof BuyerPageError ? error.status : (error.status as 400 | 403 | 404 | 409);
      const code = error instanceof AmazonPayApiError ? `${error.reasonCode}: ` : '';
      return c.html(page('Something went wrong', `<p>${escapeHtml(code + error.message)}</p>`), status);
    }
    throw error;
  });

  const baseUrl = (c: Context) => deps.publicBaseUrl() ?? new URL(c.req.url).origin;

  // A minimal stand-in for checkout.js: renderButton draws a button that posts the signed payload.
  app.get('/checkout.js', (c) => {
    c.header('content-type', 'application/javascript');
    return c.body(`window.amazon={Pay:{
  initCheckout(o){const f=document.createElement('form');f.method='POST';f.action=${JSON.stringify(`${baseUrl(c)}/checkout/button`)};
    const cfg=o.createCheckoutSessionConfig||{};for(const k of ['payloadJSON','signature','publicKeyId','algorithm']){if(cfg[k]===undefined)continue;
    const i=document.createElement('input');i.type='hidden';i.name=k;i.value=cfg[k];f.appendChild(i);}document.body.appendChild(f);f.submit();},
  renderButton(sel,o){const el=typeof sel==='string'?document.querySelector(sel):sel;const b=document.createElement('button');
    b.textContent='Amazon Pay (simulator)';b.onclick=()=>window.amazon.Pay.initCheckout(o);el.appendChild(b);return b;}}};`);
  });

  const button = async (c: Context) => {
    const form = buttonFormSchema.safeParse(await formOrQuery(c));
    if (!form.success)
      throw new BuyerPageError(400, 'The button needs payloadJSON, signature, publicKeyId and algorithm.');
    const registered = verifyButtonSignature(deps.keys, form.data);
    let payload: unknown;
    try {
      payload = JSON.parse(form.data.payloadJSON);
    } catch {
      throw new AmazonPayApiError(400, 'InvalidRequestFormat', 'payloadJSON is not valid JSON.');
    }
    const input = parseBody(createCheckoutSessionSchema, payload);
    const keyId = form.data.publicKeyId;
    const env: Environment = /^live/i.test(keyId)
      ? 'Live'
      : /^sandbox/i.test(keyId)
        ? 'Sandbox'
        : deps.defaultEnvironment;
    const session = engine.createCheckoutSession(
      { merchantId: registered.merchantId, env, simulationCode: undefined, publicBaseUrl: baseUrl(c) },
      input,
      { withBuyer: true },
    );
    const target =
      session.webCheckoutDetails.checkoutMode === 'ProcessOrder'
        ? `${baseUrl(c)}/checkout/pay/${session.checkoutSessionId}`
        : withSessionId(session.webCheckoutDetails.checkoutReviewReturnUrl!, session.checkoutSessionId);
    return c.redirect(target, 302);
  };
  app.get('/checkout/button', button);
  app.post('/checkout/button', button);

  app.get('/checkout/signin/:id', (c) => {
    const id = c.req.param('id');
    const s = engine.sessions.get(id);
    if (!s) throw new BuyerPageError(404, `Checkout Session ${id} not found.`);
    return c.html(
      page(
        'Sign in with Amazon (simulated)',
        `<p>Checkout Session <code>${escapeHtml(id)}</code></p>
<form method="POST"><p>You will sign in as the simulated buyer Jane Doe.</p><button type="submit">Sign in and continue</button></form>`,
      ),
    );
  });
  app.post('/checkout/signin/:id', (c) => {
    const s = engine.signIn(c.req.param('id'));
    const review = s.webCheckoutDetails.checkoutReviewReturnUrl;
    if (!review) throw new BuyerPageError(409, 'The Checkout Session has no checkoutReviewReturnUrl.');
    return c.redirect(withSessionId(review, s.checkoutSessionId), 302);
  });

  app.get('/checkout/pay/:id', (c) => {
    const id = c.req.param('id');
    const s = engine.sessions.get(id);
    if (!s) throw new BuyerPageError(404, `Checkout Session ${id} not found.`);
    const amount = s.paymentDetails.chargeAmount;
    const options = PAYMENT_METHOD_CHOICES.filter((m) => m !== 'buyerCancel')
      .map(
        (m, i) =>
          `<label><input type="radio" name="method" value="${m}"${i === 0 ? ' checked' : ''}> ${escapeHtml(PAYMENT_METHODS[m].descriptor)} – ${escapeHtml(PAYMENT_METHODS[m].label)}</label><br>`,
      )
      .join('\n');
    return c.html(
      page(
        'Amazon Pay (simulated)',
        `<p>Checkout Session <code>${escapeHtml(id)}</code> (${escapeHtml(s.state)})</p>
<p>Amount: ${amount ? `${escapeHtml(String(amount.minor))} minor units ${escapeHtml(amount.currencyCode)}` : 'not set'} – intent ${escapeHtml(s.paymentDetails.paymentIntent ?? 'not set')}</p>
<form method="POST"><fieldset><legend>Payment method</legend>${options}</fieldset><button type="submit">Pay now</button></form>
<form method="POST"><input type="hidden" name="method" value="cancel"><button type="submit">Cancel and return to merchant</button></form>`,
      ),
    );
  });
  app.post('/checkout/pay/:id', async (c) => {
    const form = methodFormSchema.safeParse(await formOrQuery(c));
    if (!form.success)
      throw new BuyerPageError(
        400,
        `Unknown payment method; choose one of ${PAYMENT_METHOD_CHOICES.join(', ')} or cancel.`,
      );
    const location = engine.pay(c.req.param('id'), form.data.method);
    return c.redirect(location, 302);
  });

  const accountPath = (id: string) => `/account/charge-permissions/${encodeURIComponent(id)}`;
  app.get('/account/charge-permissions/:id', (c) => {
    const id = c.req.param('id');
    const cp = engine.chargePermissions.get(id);
    if (!cp || !cp.visible) throw new BuyerPageError(404, `Charge Permission ${id} not found.`);
    const options = PAYMENT_METHOD_CHOICES.filter((m) => m !== 'buyerCancel' && m !== 'declinedAtAmazon')
      .map(
        (m) =>
          `<option value="${m}">${escapeHtml(PAYMENT_METHODS[m].descriptor)} – ${escapeHtml(PAYMENT_METHODS[m].label)}</option>`,
      )
      .join('');
    return c.html(
      page(
        'Your Amazon Pay account (simulated)',
        `<p>Charge Permission <code>${escapeHtml(id)}</code>: ${escapeHtml(cp.chargePermissionType)}, <strong>${escapeHtml(cp.state)}</strong>
${cp.reasons ? `(${escapeHtml(cp.reasons.map((r) => r.reasonCode).join(', '))})` : ''}</p>
<p>Payment method: ${escapeHtml(PAYMENT_METHODS[cp.paymentMethod].descriptor)}</p>
<form method="POST" action="${accountPath(id)}/payment-method"><select name="method">${options}</select><button type="submit">Update payment method</button></form>
<form method="POST" action="${accountPath(id)}/close"><button type="submit">Cancel this subscription / agreement</button></form>`,
      ),
    );
  });
  app.post('/account/charge-permissions/:id/close', (c) => {
    const id = c.req.param('id');
    engine.closeChargePermissionAsBuyer(id);
    return c.redirect(accountPath(id), 303);
  });
  app.post('/account/charge-permissions/:id/payment-method', async (c) => {
    const id = c.req.param('id');
    const form = methodFormSchema.safeParse(await formOrQuery(c));
    if (!form.success || form.data.method === 'cancel') throw new BuyerPageError(400, 'Unknown payment method.');
    engine.fixPaymentMethod(id, form.data.method);
    return c.redirect(accountPath(id), 303);
  });

  return app;
}

function withSessionId(url: string, id: string): string {
  const u = new URL(url);
  u.searchParams.set('amazonCheckoutSessionId', id);
  return u.toString();
}
