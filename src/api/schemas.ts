/** JSON-schema pieces shared by routes; they double as the OpenAPI document. */
export const userIdSchema = { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,64}$', description: 'Your platform\'s user id' } as const;
export const assetSchema = { type: 'string', pattern: '^[A-Z0-9]{1,16}$', examples: ['USDT'] } as const;
export const amountSchema = {
  type: 'string',
  maxLength: 80,
  description: 'Decimal string in asset units, e.g. "1.5". Never a JSON number. At most 10^60 - 1 base units (else 400 amount_too_large).',
  examples: ['1.5'],
} as const;
export const addressSchema = { type: 'string', maxLength: 64, description: 'EVM address; mixed case must carry a valid EIP-55 checksum' } as const;
export const chainIdSchema = { type: 'integer', minimum: 1, maximum: 2 ** 48, examples: [31337] } as const;

export const problemResponses = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
} as const;
