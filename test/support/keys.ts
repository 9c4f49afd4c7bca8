export { generateMerchantKey, type MerchantKeyPair as TestKeyPair } from '../../scripts/merchant-key';
