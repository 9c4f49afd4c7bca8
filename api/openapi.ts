import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { securitySchemes } from './auth';
import { createCheckoutRoutes } from './checkout/routes';

type OpenAPIDocument = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

/**
 * The OpenAPI 3.1 document, generated from the same route definitions and zod schemas the API
 * serves. The routes are built with inert dependencies: generating the document never calls them.
 */
let cached: OpenAPIDocument | undefined;

export function openApiDocument(options: { serverUrl?: string } = {}): OpenAPIDocument {
  if (!options.serverUrl && cached) return cached;
  const inert = {
    temporal: {} as Client,
    taskQueue: '',
    apiKeys: [],
    buttonSigner: { buttonConfig: () => ({ payloadJSON: '', signature: '', publicKeyId: '', algorithm: '' }) },
    storeId: '',
  };
  const routes = createCheckoutRoutes(inert);
  for (const [name, scheme] of Object.entries(securitySchemes)) {
    routes.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  }
  const document = routes.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Amazon Pay checkout orchestration API',
      version: '1.0.0',
      description:
        'One-time Amazon Pay Checkout v2 payments, each owned by a durable Temporal workflow. Errors are always { "error": { "code", "message" } }.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
  });
  if (!options.serverUrl) cached = document;
  return document;
}
