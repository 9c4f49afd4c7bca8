/** What the simulator hands out as the buyer's personal data (simulator/engine.ts: associateBuyer, simulatedAddress). */
export const SIMULATOR_BUYER_PII = ['Jane Doe', 'jane.doe@example.com', '10 Ditka Ave', 'Suite 2500', '800-000-0000'];
