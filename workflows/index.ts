// Everything the worker's workflow bundle exports. Keep workflow code deterministic: no Node
// built-ins, no activity implementations (lint enforces both).
export * from './checkout';
export * from './checkout-session-creation';
export * from './notifications';
export * from './events/endpoint';
export * from './events/redelivery';
export * from './subscription';
