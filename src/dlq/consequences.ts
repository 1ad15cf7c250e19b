import type { WithdrawalRow } from '../withdrawals/repository.js';
import type { AttemptRow } from '../withdrawals/attempts.js';
import type { DeadLetterRow } from './dead-letter-actions.js';

const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * What retry and discard would do to the hold and the nonce, shown before the operator confirms.
 * The same cases as src/dlq/dead-letter-actions.ts decides them; a discard of a signed withdrawal
 * also asks the chain first (a mined tx settles as mined), which a preview cannot promise.
 */
export function deadLetterConsequences(letter: DeadLetterRow, w: WithdrawalRow | undefined, latest: AttemptRow | undefined): { retry: string; discard: string } {
  if (letter.status !== 'open') return { retry: `not possible: the letter is ${letter.status}`, discard: `not possible: the letter is ${letter.status}` };
  if (!w) return { retry: 'not possible: the withdrawal is gone', discard: 'closes the letter' };
  if (TERMINAL.includes(w.status)) {
    const held = w.status === 'COMPLETED' ? 'already paid: the hold became the payout and fee' : w.status === 'REJECTED' ? 'nothing held' : 'hold released';
    return { retry: `not possible: the withdrawal is ${w.status} (409 withdrawal_terminal)`, discard: `closes the letter; ${held}` };
  }
  if (w.status === 'CONFIRMING') return { retry: 'not possible: its transaction is mined (409 already_mined)', discard: 'not possible: its transaction is mined (409 already_mined); it settles as mined' };
  if (w.status === 'RECEIVED' && w.nonce === null) {
    return {
      retry: 'queued for signing again: every check runs again; the balance is held and a nonce taken only when it is signed',
      discard: 'CANCELLED now; nothing is held and no nonce was taken',
    };
  }
  const nonce = `nonce ${w.nonce} of ${w.wallet}`;
  const discard = `unless one of its transactions is already mined (then 409 already_mined), ${nonce} is filled with a 0-value cancel; the hold is released when the cancel is mined, and the wallet's later withdrawals go on`;
  if (w.cancel_reason !== null) {
    return {
      retry: latest?.kind === 'cancel'
        ? `the cancel is called off and the payout re-signed at ${nonce} over it; the hold stays until one of them is mined (payout: paid; cancel: hold released)`
        : 'not yet: the cancel for its nonce is not signed (409 cancel_pending); try again in a few seconds',
      discard,
    };
  }
  return { retry: `the newest transaction at ${nonce} is broadcast again (same signed bytes); the hold stays until it settles`, discard };
}
