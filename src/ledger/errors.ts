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
