// Bundle entry for IPN routing tests: the real inbox plus the test-only owner.
export * from '../../workflows/notifications';
export * from './owner-workflow';
