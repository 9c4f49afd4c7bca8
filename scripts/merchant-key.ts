import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface MerchantKeyPair {
  publicKeyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/**
 * A fresh 2048-bit RSA merchant key, as a merchant creates one in Seller Central. Used where the
 * simulator plays Amazon Pay (npm start, tests, benchmarks): it is registered with the simulator.
 */
export function generateMerchantKey(
  publicKeyId = `SANDBOX-${randomBytes(12).toString('hex').toUpperCase()}`,
): MerchantKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyId,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
