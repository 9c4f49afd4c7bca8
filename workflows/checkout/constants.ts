/*
 * Defaults, documented here because they are business decisions:
 * - the order stays open for refunds REFUND_WINDOW_DAYS after capture (a OneTime charge permission
 *   lives 180 days), then the workflow closes the charge permission and ends;
 * - an unused authorization is warned about AUTH_EXPIRY_WARNING_MS before Amazon cancels it
 *   (30 days after authorization, Canceled/ExpiredUnused);
 * - pending objects (AuthorizationInitiated, CaptureInitiated, RefundInitiated) are polled as a
 *   fallback to IPNs: 30 s, 1 m, 2 m ... capped at 1 h; a pending authorization is given 24 h plus
 *   a margin, then canceled so no orphan authorization can remain.
 */
export const REFUND_WINDOW_DAYS = 180;
export const DAY = 24 * 60 * 60 * 1000;
export const AUTH_EXPIRY_WARNING_MS = 2 * DAY;
export const PENDING_AUTHORIZATION_LIMIT_MS = DAY + 60 * 60 * 1000;
const POLL_INITIAL_MS = 30_000;
const POLL_MAX_MS = 60 * 60 * 1000;
export const DEADLINE_GRACE_CHECKS = 6;
export const HISTORY_LIMIT = 5_000;
/** An authorization Amazon does not capture within 30 days becomes Canceled/ExpiredUnused. */
export const AUTHORIZATION_LIFETIME_MS = 30 * DAY;
/** A OneTime charge permission lives 180 days (Amazon closes it then). */
export const CHARGE_PERMISSION_LIFETIME_MS = 180 * DAY;
/*
 * patched() ids go here, one per change that a recorded history (test/fixtures/histories) meets;
 * test/replay.test.ts proves those histories still replay. (The ids from before the first release
 * were collapsed into the code when the fixtures were re-recorded.)
 */
/**
 * Amazon is read only where the state is unknown (issue 8, defect 7): no second Get Checkout
 * Session when the review that started the checkout read it; no Get for a notification about a
 * charge already final, or about the creation of a charge we read from the answer, or about the
 * permission once the order has a charge (it changes nothing then); no Close Charge Permission for
 * a OneTime permission Amazon closes by itself once the order total is captured.
 */
export const READ_ONLY_THE_UNKNOWN = 'read-only-the-unknown';
/**
 * A run started with its search attributes (the API sets them at update-with-start; the server
 * carries them over continue-as-new) does not upsert the same values at its first task.
 */
export const START_ATTRIBUTES_KEPT = 'start-attributes-kept';
/**
 * A call given up to an operator sets the OperatorAttention search attribute (operators search by
 * it) until resolveAmazonPayCall clears it. A history that gave up before (the charge-given-up
 * fixture) upserted no attribute there: replaying it must not add the upsert.
 */
export const UNRESOLVED_CALL_ATTENTION = 'unresolved-call-attention';
export const SEEN_NOTIFICATIONS_KEPT = 200;
/**
 * A step of the order loop failing without an answer (5xx, timeouts, after its retries) this many
 * times in a row (about two hours of backing off) needs an operator; one failing non-retryably
 * (Amazon refused, or answered something unreadable: the same call cannot do better) three times
 * in a row (a minute and a half) does. A notification whose object cannot be read is dropped
 * before that (NOTIFICATION_ATTEMPTS).
 */
export const ATTENTION_AFTER_FAILURES = 8;
export const ATTENTION_AFTER_REFUSALS = 3;
/** Reads of one notification's object before the notification is dropped (polling remains). */
export const NOTIFICATION_ATTEMPTS = 3;

// Workflow time: Date is the deterministic clock of the workflow sandbox.
export const nowIso = () => new Date().toISOString();
export const msUntil = (iso: string) => Date.parse(iso) - Date.now();
export const pollDelay = (polls: number) => Math.min(POLL_INITIAL_MS * 2 ** Math.min(polls, 20), POLL_MAX_MS);
