// Encrypts a recorded history in place with the test-only key, for a fixture no test records any
// more (re-recording is the way for all others): `npx tsx test/support/encrypt-fixture.ts <file>...`
import { encryptFixture } from './history-payloads';

for (const file of process.argv.slice(2)) console.log(`${file}: ${await encryptFixture(file)} payloads encrypted`);
