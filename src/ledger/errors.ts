import { RetryableError, SluiceError } from '../errors/base.js';

export class InsufficientBalanceError extends SluiceError {
  override name = 'InsufficientBalanceError';
  constructor(userId: string, asset: string) {
    super(`User ${userId} has too little available ${asset} for this operation.`, { code: 'insufficient_balance' });
  }
}

export class ReferenceConflictError extends SluiceError {
  override name = 'ReferenceConflictError';
  constructor(kind: string, reference: string) {
    super(`The ${kind} reference "${reference}" was already used with a different user, asset or amount.`, {
      code: 'reference_conflict',
    });
  }
}

/** The movement would take a balance past what an amount column can store (DECIMAL(65,0)). */
export class BalanceLimitError extends SluiceError {
  override name = 'BalanceLimitError';
  constructor(userId: string, asset: string) {
    super(`This credit would take ${userId}'s ${asset} balance past the largest balance Sluice can store.`, {
      code: 'balance_limit_exceeded',
    });
  }
}

/**
 * A batch read its balance rows without locking them, to lock them only just before it writes
 * them (openLedgerBatch, `lock: 'at-flush'`), and a movement that succeeded or failed on what it
 * read would not do the same on the rows as locked: another transaction committed in between.
 * Nothing of the batch may commit; run it again with the rows locked first.
 */
export class BalancesMovedError extends RetryableError {
  override name = 'BalancesMovedError';
  constructor(userId: string, asset: string) {
    super(`${userId}'s ${asset} balance changed between the batch's read and its lock.`, { code: 'balances_moved' });
  }
}
