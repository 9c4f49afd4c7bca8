import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { bundlerLogger, CENSOR, createLogger, temporalLevel, temporalLogger, type LogLevel } from './logger';

function capture(level: LogLevel = 'trace') {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level, component: 'test', destination }) };
}

const buyer = {
  buyerId: 'amzn1.account.X',
  name: 'Jane Doe',
  email: 'jane.doe@example.com',
  phoneNumber: '800-000-0000',
};
const address = { name: 'Jane Doe', addressLine1: '10 Ditka Ave', city: 'Chicago', phoneNumber: '800-000-0000' };

describe('the logger', () => {
  it('writes one JSON object per line with level name, time, component and message', () => {
    const { lines, logger } = capture();
    logger.info({ checkoutSessionId: 's-1' }, 'checkout status');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      component: 'test',
      msg: 'checkout status',
      checkoutSessionId: 's-1',
    });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('censors buyer data and credentials wherever they sit, at any depth', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        buyer,
        review: { buyer, shippingAddress: address, billingAddress: address },
        deep: {
          a: { b: { c: { d: { e: { f: { g: { email: 'jane.doe@example.com', addressLine1: '10 Ditka Ave' } } } } } } },
        },
        list: [{ shippingAddress: address }],
        headers: { authorization: 'Bearer sk_live_secret', 'x-api-key': 'sk_live_other' },
        apiKey: 'sk_live_secret',
        privateKey: '-----BEGIN PRIVATE KEY-----',
        token: 'codec_token_secret',
        chargeId: 'S01-0000000-0000000-C000000',
      },
      'review',
    );
    const text = JSON.stringify(lines);
    for (const secret of [
      'Jane Doe',
      'jane.doe@example.com',
      '800-000-0000',
      '10 Ditka Ave',
      'sk_live_secret',
      'sk_live_other',
      'BEGIN PRIVATE KEY',
      'codec_token_secret',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      buyer: CENSOR,
      review: { buyer: CENSOR, shippingAddress: CENSOR },
      headers: { authorization: CENSOR, 'x-api-key': CENSOR },
    });
    // What operators need stays.
    expect(lines[0]!.chargeId).toBe('S01-0000000-0000000-C000000');
  });

  it('censors an object each place it is shared, the fields of errors, and survives cycles', () => {
    const { lines, logger } = capture();
    const shared = { city: 'Chicago', addressLine1: '10 Ditka Ave' };
    const cyclic: Record<string, unknown> = { email: 'jane.doe@example.com' };
    cyclic.self = cyclic;
    const error = Object.assign(new Error('declined'), { buyer });
    logger.info({ first: shared, second: shared, cyclic, error, bytes: new Uint8Array([1, 2]) }, 'mixed');
    expect(JSON.stringify(lines)).not.toMatch(/Ditka|jane\.doe|Jane Doe/);
    expect(lines[0]).toMatchObject({
      first: { addressLine1: CENSOR },
      second: { addressLine1: CENSOR },
      error: { message: 'declined', buyer: CENSOR },
    });
    // What was logged is left as it was.
    expect(shared.addressLine1).toBe('10 Ditka Ave');
    expect(error.buyer).toBe(buyer);
  });

  it('honours the level', () => {
    const { lines, logger } = capture('warn');
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});

describe('the Temporal SDK logger adapter', () => {
  it('maps the SDK levels and meta to lines, errors serialized with their type and message', () => {
    const { lines, logger } = capture('debug');
    const sdk = temporalLogger(logger);
    sdk.trace('below the level');
    sdk.debug('Activity failed', {
      sdkComponent: 'worker',
      activityType: 'getCharge',
      error: ApplicationFailure.nonRetryable('declined', 'HardDeclined'),
    });
    sdk.log('WARN', 'checkout step failed; retrying', { sdkComponent: 'workflow', workflowId: 'checkout-1' });
    sdk.error('boom', { [Symbol('ts')]: 1n });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'Activity failed'],
      ['warn', 'checkout step failed; retrying'],
      ['error', 'boom'],
    ]);
    expect(lines[0]).toMatchObject({
      sdkComponent: 'worker',
      activityType: 'getCharge',
      error: { type: 'ApplicationFailure', message: 'declined' },
    });
    expect(lines[1]).toMatchObject({ sdkComponent: 'workflow', workflowId: 'checkout-1' });
  });

  it('gives Core the same level as pino (fatal and silent as ERROR)', () => {
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map(temporalLevel)).toEqual([
      'TRACE',
      'DEBUG',
      'INFO',
      'WARN',
      'ERROR',
      'ERROR',
      'ERROR',
    ]);
  });

  it('logs the bundler’s statistics at debug, its warnings as warnings', () => {
    const { lines, logger } = capture('info');
    const bundler = bundlerLogger(temporalLogger(logger));
    bundler.info('asset workflow-bundle.js 1.2 MiB [emitted]');
    bundler.log('INFO', 'Workflow bundle created');
    bundler.warn('Module not found');
    expect(lines.map((l) => [l.level, l.msg, l.sdkComponent])).toEqual([['warn', 'Module not found', 'bundler']]);
  });
});
