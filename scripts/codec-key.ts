// Prints a fresh payload encryption key for PAYLOAD_CODEC_KEYS / PAYLOAD_CODEC_KEYS_FILE:
// `npx tsx scripts/codec-key.ts [id]` (default id: k<yyyymmdd>). Store it in your secret store,
// never in the repository.
import { generateCodecKey } from '../temporal/codec';

const id = process.argv[2] ?? `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
console.log(generateCodecKey(id));
