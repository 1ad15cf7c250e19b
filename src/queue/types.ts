/**
 * A work queue with at-least-once delivery, shaped after SQS so the SQS adapter is a thin mapping:
 * a received message stays invisible until acked or its visibility runs out; `groupId` gives FIFO
 * order within a group: while a group has a message in flight no later receive returns that group,
 * though one receive may return several of a group, in order (SQS does), so `runConsumer` handles
 * a group's messages one after another. `dedupId` drops repeats for a while.
 * Queues are triggers, not the truth: every consumer re-reads the database and tolerates repeats.
 */
export type SendOptions = { groupId?: string; dedupId?: string; delayMs?: number };

export type QueueMessage<T> = {
  id: string;
  /** This delivery's handle (SQS ReceiptHandle): ack/retry from an expired delivery do nothing. */
  receipt: string;
  body: T;
  /** 1 on first delivery. */
  receiveCount: number;
  groupId?: string;
};

export interface Queue<T> {
  readonly name: string;
  send(body: T, options?: SendOptions): Promise<void>;
  /** Several messages at once (what one group commit created): fewer calls than one send each. */
  sendBatch(messages: ReadonlyArray<{ body: T; options?: SendOptions }>): Promise<void>;
  receive(options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<QueueMessage<T>[]>;
  /** Done with it: delete. */
  ack(message: QueueMessage<T>): Promise<void>;
  /** Make it visible again after `delayMs` (backoff); 0 hands it back at once. */
  retry(message: QueueMessage<T>, delayMs: number): Promise<void>;
  /**
   * Still working on it: keep it hidden for `visibilityMs` from now. A delivery whose receipt is no
   * longer current (acked, retried, redelivered) is left alone.
   */
  extendVisibility(message: QueueMessage<T>, visibilityMs: number): Promise<void>;
  /** How long a received message stays hidden unless extended; the consumer extends before it runs out. */
  readonly visibilityMs?: number;
  /** Most messages one receive returns (SQS: 10); consumers ask for up to this many at a time. */
  readonly maxReceive: number;
  /** Approximate number of visible + in-flight messages. */
  depth(): Promise<number>;
}

/**
 * Work for the signer. `sign` (the default) signs a RECEIVED withdrawal at a fresh nonce. The
 * others act on a withdrawal that already owns a nonce and are asked for by the tracker or an
 * operator: `bump` replaces the attempt `replaces` at the same nonce with higher fees, `cancel`
 * fills the nonce with a 0-value self-transfer, `resign` moves a withdrawal whose nonce was taken
 * by a foreign tx (final on chain) to a fresh nonce.
 */
export type SignerAction = 'sign' | 'bump' | 'cancel' | 'resign' | 'fill';
export type RequestMessage = {
  withdrawalId: string;
  action?: SignerAction;
  /** bump: the tx hash the caller wants replaced (stale if a newer attempt exists). */
  replaces?: string;
  /** cancel: why, for logs only: the decision is the row's `cancel_reason`, set before asking. */
  reason?: string;
  /** resign: the nonce the caller saw taken (stale if the withdrawal has moved on). fill: the emptied nonce to fill. */
  nonce?: number;
};
export type SignedMessage = { withdrawalId: string; txHash: string };
export type DeadLetterMessage = { withdrawalId: string; code: string; reason: string; attempts: number };
