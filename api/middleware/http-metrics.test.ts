import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiMetrics } from '../../observability/metrics';
import { createApp } from '../app';
import { silentIpnLogger } from '../ipn';

// Requests here never reach Temporal (health, refused credentials, malformed IPNs).
const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
afterAll(() => client.connection.close());

describe('HTTP and IPN metrics of the API', () => {
  it('count requests by method, route pattern and status, time them, and count IPNs by outcome', async () => {
    const metrics = createApiMetrics({ processMetrics: false });
    const app = createApp({
      metrics,
      checkout: {
        temporal: client,
        taskQueue: 'q',
        apiKeys: ['k'],
        storeId: 's',
        bodyLimitBytes: 1024,
        buttonSigner: {
          buttonConfig: () => ({
            payloadJSON: '{}',
            signature: 's',
            publicKeyId: 'k',
            algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
          }),
        },
      },
      ipn: {
        temporal: client,
        taskQueue: 'q',
        path: '/amazon-pay/ipn',
        certHostPattern: /^127\.0\.0\.1$/,
        confirmSubscriptions: false,
        bodyLimitBytes: 1024,
        logger: silentIpnLogger,
      },
    });
    await app.request('/health');
    await app.request('/health');
    await app.request('/v1/checkouts/6f3f1f0e-0000-4000-8000-000000000000', {
      headers: { authorization: 'Bearer wrong' },
    });
    await app.request('/amazon-pay/ipn', {
      method: 'POST',
      body: 'not json',
      headers: { 'content-type': 'text/plain' },
    });

    const text = await metrics.registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/health",status="200"} 2');
    // The pattern, not the id: one series however many checkouts there are.
    expect(text).toContain('http_requests_total{method="GET",route="/v1/checkouts/:checkoutSessionId",status="401"} 1');
    expect(text).not.toContain('6f3f1f0e');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/health",status="200"} 2');
    expect(text).toContain('http_requests_total{method="POST",route="/amazon-pay/ipn",status="400"} 1');
    expect(text).toContain('amazon_pay_ipn_messages_total{outcome="ipn_malformed_envelope"} 1');
  });
});
