// Errors an AWS API or the network under it raises that mean "try again later". Apart from the SDK
// clients, so that classifying a failure never loads one.
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
]);
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export function awsErrorName(err: unknown): string | undefined {
  return err && typeof err === 'object' && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined;
}

/**
 * Whether an AWS SDK failure is an outage rather than an answer: by the SDK's own markers
 * ($retryable, a server fault, HTTP 429/5xx), by known throttling/internal error names, or by a
 * network error code. Anything else (not found, disabled, access denied) is an answer.
 */
export function isTransientAwsError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { $retryable?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: number }; code?: unknown; name?: unknown };
  if (e.$retryable || e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  return typeof e.code === 'string' && TRANSIENT_CODES.has(e.code);
}
