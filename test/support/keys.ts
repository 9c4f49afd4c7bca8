import { generateKeyPairSync } from 'node:crypto';

export interface TestKeyPair {
  publicKeyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A fresh 2048-bit RSA key registered with the simulator, as a merchant would in Seller Central. */
export function generateMerchantKey(publicKeyId = `SANDBOX-TEST${Math.random().toString(36).slice(2, 10).toUpperCase()}`): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyId,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
