/**
 * SQS's own redrive is the backstop for a message that crashes its consumer before the app can
 * dead-letter it with a reason; so it must fire only after the app's own give-up counts
 * (SLUICE_SIGNER_MAX_ATTEMPTS=10, SLUICE_SENDER_MAX_ATTEMPTS=8) had their chance. A module of its
 * own so that the CLI can show it without loading the SQS client.
 */
export const DEFAULT_MAX_RECEIVE_COUNT = 20;
