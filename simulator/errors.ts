/** An error answered to the merchant in Amazon Pay's shape `{ reasonCode, message }`. */
export class AmazonPayApiError extends Error {
  constructor(
    readonly status: number,
    readonly reasonCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'AmazonPayApiError';
  }

  toBody(): { reasonCode: string; message: string } {
    return { reasonCode: this.reasonCode, message: this.message };
  }
}

export const notFound = (what: string, id: string) =>
  new AmazonPayApiError(404, 'ResourceNotFound', `The ${what} '${id}' you requested does not exist.`);

export const missingParameter = (name: string) =>
  new AmazonPayApiError(400, 'MissingParameterValue', `Value is missing for the required parameter ${name}`);

export const invalidParameter = (name: string, detail?: string) =>
  new AmazonPayApiError(
    400,
    'InvalidParameterValue',
    `The value provided for ${name} is invalid.${detail ? ` ${detail}` : ''}`,
  );

/** Raised by the buyer pages; rendered as an HTML error page rather than JSON. */
export class BuyerPageError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'BuyerPageError';
  }
}
