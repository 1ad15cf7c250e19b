import { isTransientDbError } from '../db/errors.js';

/**
 * Every error Sluice raises on purpose is a SluiceError: a short human sentence, optional details
 * (often the raw node or driver text), the cause chain, a stable machine `code`, and whether a
 * retry could succeed. Callers branch on the class or `code`, never on message text.
 */
export type SluiceErrorOptions = {
  cause?: unknown;
  details?: string;
  code?: string;
  metaMessages?: string[];
};

export class SluiceError extends Error {
  override name = 'SluiceError';
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly code: string;
  readonly retryable: boolean = false;

  constructor(shortMessage: string, options: SluiceErrorOptions = {}) {
    const details = options.details ?? detailsOf(options.cause);
    const lines = [shortMessage, ...(options.metaMessages ?? [])];
    if (details) lines.push(`Details: ${details}`);
    super(lines.join('\n'), options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = details;
    this.code = options.code ?? 'internal_error';
  }

  /** Walks the cause chain and returns the first error for which `fn` is true. */
  walk(fn: (err: unknown) => boolean): unknown {
    let current: unknown = this;
    for (let depth = 0; current && depth < 20; depth++) {
      if (fn(current)) return current;
      current = (current as { cause?: unknown }).cause;
    }
    return undefined;
  }
}

/** A failure that may go away by itself (network, timeouts, lock contention): try again later. */
export class RetryableError extends SluiceError {
  override name = 'RetryableError';
  override readonly retryable = true;
}

/**
 * Whether a later try may succeed: the error says so, or a transient database failure (lost
 * connection, deadlock, busy file...) is in its cause chain, raw or wrapped (invariant 11).
 */
export function isRetryable(err: unknown): boolean {
  return (err instanceof SluiceError && err.retryable) || isTransientDbError(err);
}

function detailsOf(cause: unknown): string | undefined {
  if (cause instanceof SluiceError) return cause.details;
  if (cause && typeof cause === 'object') {
    const c = cause as { details?: unknown; message?: unknown };
    if (typeof c.details === 'string') return c.details;
    if (typeof c.message === 'string') return c.message;
  }
  return undefined;
}

/** A bounded label for an error: its SluiceError code, else `unexpected` (never free text). */
export function errorCode(err: unknown): string {
  return err instanceof SluiceError ? err.code : 'unexpected';
}
