import { SluiceError } from '../errors/base.js';

export class IdempotencyKeyReusedError extends SluiceError {
  override name = 'IdempotencyKeyReusedError';
  constructor() {
    super('This Idempotency-Key was already used with a different request body.', { code: 'idempotency_key_reused' });
  }
}

/** A compare-and-set lost: the row was not in the expected status (someone else moved it). */
export class StaleTransitionError extends SluiceError {
  override name = 'StaleTransitionError';
  constructor(id: string, from: string, to: string) {
    super(`Withdrawal ${id} was no longer ${from}; not moved to ${to}.`, { code: 'stale_transition' });
  }
}
