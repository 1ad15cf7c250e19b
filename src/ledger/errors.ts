import { SluiceError } from '../errors/base.js';

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
