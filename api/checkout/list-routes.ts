import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { isGrpcServiceError } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { ApiError } from '../errors';
import { apiKeySecurity } from '../auth';
import { withTemporal, type CheckoutRouteDeps } from './deps';
import { errorResponses, jsonContent } from './route-helpers';
import { MerchantReferenceIdSchema } from './schemas';
import {
  AmazonChargePermissionId,
  CheckoutStatus,
  MerchantReferenceId,
  NextBillingAt,
  SubscriptionStatus,
} from '../../workflows/search-attributes';

/**
 * Listing through Temporal visibility (the workflows' search attributes are the index; no store of
 * our own), newest first, with an opaque cursor: the visibility page token. Checkouts and
 * subscriptions answer the same shape.
 */

const isoDate = z.iso.datetime({ offset: true });
const ListQuerySchema = z.object({
  status: z
    .string()
    .regex(/^[A-Za-z_]{1,32}$/, 'must be a status name')
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
  merchantReferenceId: MerchantReferenceIdSchema.optional().openapi({
    param: { name: 'merchantReferenceId', in: 'query' },
  }),
  createdAfter: isoDate.optional().openapi({ param: { name: 'createdAfter', in: 'query' } }),
  createdBefore: isoDate.optional().openapi({ param: { name: 'createdBefore', in: 'query' } }),
  // Digits only: a bare coerce would take "0x10", "1e1" or " 5" for the integer the document promises.
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20)
    .openapi({ type: 'integer', minimum: 1, maximum: 100, default: 20, param: { name: 'limit', in: 'query' } }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,4096}$/, 'must be a cursor from a previous page')
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' } }),
});

const ItemSchema = z
  .object({
    id: z.string().openapi({ description: 'checkoutSessionId, or the subscription id' }),
    status: z.string().nullable(),
    merchantReferenceId: z.string().nullable(),
    chargePermissionId: z.string().nullable(),
    nextBillingAt: z.string().nullable().optional(),
    createdAt: z.string().nullable(),
    closedAt: z.string().nullable(),
  })
  .openapi('ListItem');
const ListSchema = z.object({ data: z.array(ItemSchema), nextCursor: z.string().nullable() }).openapi('List');

/** Values go into a visibility query: only what the schema let through, quoted. */
const quoted = (s: string) => `'${s.replace(/[\\']/g, '')}'`;

export function registerListRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps, guard: MiddlewareHandler[]) {
  for (const kind of ['checkouts', 'subscriptions'] as const) {
    const route = createRoute({
      method: 'get',
      path: `/v1/${kind}`,
      tags: [kind === 'checkouts' ? 'Checkouts' : 'Subscriptions'],
      summary: `List ${kind}, newest first (filters: status, merchantReferenceId, created after/before; cursor pagination)`,
      description:
        'Through Temporal visibility, which is eventually consistent: an object created a moment ago may show up a little later.',
      security: apiKeySecurity,
      middleware: guard,
      request: { query: ListQuerySchema },
      responses: { 200: jsonContent(ListSchema, 'A page'), ...errorResponses(400, 401, 503, 504) },
    });
    app.openapi(route, async (c) => {
      const q = c.req.valid('query');
      const clauses = [`WorkflowType = ${quoted(kind === 'checkouts' ? 'checkoutWorkflow' : 'subscriptionWorkflow')}`];
      if (q.status)
        clauses.push(`${kind === 'checkouts' ? 'CheckoutStatus' : 'SubscriptionStatus'} = ${quoted(q.status)}`);
      if (q.merchantReferenceId) clauses.push(`MerchantReferenceId = ${quoted(q.merchantReferenceId)}`);
      if (q.createdAfter) clauses.push(`StartTime > ${quoted(new Date(q.createdAfter).toISOString())}`);
      if (q.createdBefore) clauses.push(`StartTime < ${quoted(new Date(q.createdBefore).toISOString())}`);
      let nextPageToken: Uint8Array | undefined;
      if (q.cursor) {
        nextPageToken = Buffer.from(q.cursor, 'base64url');
        if (nextPageToken.length === 0)
          throw new ApiError(400, 'validation_error', 'invalid query: cursor: must be a cursor from a previous page');
      }
      const page = await withTemporal(deps, undefined, async () => {
        try {
          return await deps.temporal.workflowService.listWorkflowExecutions({
            namespace: deps.temporal.options.namespace,
            query: clauses.join(' AND '),
            pageSize: q.limit,
            ...(nextPageToken ? { nextPageToken } : {}),
          });
        } catch (err) {
          // A token visibility cannot read (INVALID_ARGUMENT, or UNKNOWN from the SQL store) is the caller's mistake.
          if (q.cursor && isGrpcServiceError(err) && (err.code === 3 || err.code === 2))
            throw new ApiError(400, 'validation_error', 'invalid query: cursor: must be a cursor from a previous page');
          throw err;
        }
      });
      const data = (page.executions ?? []).map((e) => {
        const attrs = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
        const workflowId = e.execution?.workflowId ?? '';
        const ts = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
          t?.seconds != null
            ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString()
            : null;
        const next = kind === 'subscriptions' ? attrs.get(NextBillingAt) : undefined;
        return {
          id: kind === 'checkouts' ? workflowId.replace(/^checkout-/, '') : workflowId,
          status: (kind === 'checkouts' ? attrs.get(CheckoutStatus) : attrs.get(SubscriptionStatus)) ?? null,
          merchantReferenceId: attrs.get(MerchantReferenceId) ?? null,
          chargePermissionId: attrs.get(AmazonChargePermissionId) ?? null,
          ...(kind === 'subscriptions' ? { nextBillingAt: next ? next.toISOString() : null } : {}),
          createdAt: ts(e.startTime),
          closedAt: ts(e.closeTime),
        };
      });
      const token =
        page.nextPageToken && page.nextPageToken.length > 0
          ? Buffer.from(page.nextPageToken).toString('base64url')
          : null;
      return c.json({ data, nextCursor: token }, 200);
    });
  }
}
