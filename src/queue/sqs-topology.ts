import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { awsClientConfig } from '../aws/clients.js';
import { ConfigError } from '../config/load.js';
import { type Config, envNames } from '../config/schema.js';
import { SluiceError } from '../errors/base.js';
import type { Queues } from '../runtime/services.js';
import { createSqsQueue, QueueUnavailableError } from './sqs-queue.js';
import { DEFAULT_MAX_RECEIVE_COUNT } from './sqs-redrive.js';
import type { DeadLetterMessage, RequestMessage, SignedMessage } from './types.js';

export type QueueRole = 'requests' | 'signed' | 'invalidDlq' | 'txDlq';
export type QueueUrls = Record<QueueRole, string>;

const MAIN_RETENTION_S = 4 * 24 * 3600;
// A redriven message keeps its original enqueue time, so a DLQ must keep messages longer than its source.
const DLQ_RETENTION_S = 14 * 24 * 3600;

const urlKey = { requests: 'txRequestQueueUrl', signed: 'signedTxQueueUrl', invalidDlq: 'invalidDlqUrl', txDlq: 'txDlqUrl' } as const satisfies Record<QueueRole, keyof Config>;

export function queueNames(prefix: string): Record<QueueRole, string> {
  return { requests: `${prefix}-tx-requests`, signed: `${prefix}-signed-tx.fifo`, invalidDlq: `${prefix}-invalid-dlq`, txDlq: `${prefix}-tx-dlq.fifo` };
}

/**
 * Creates the four queues, or brings existing ones to the wanted settings; safe to run again.
 * Only what cannot change (FIFO or not) goes into CreateQueue, so a re-run with another visibility
 * or maxReceiveCount converges through SetQueueAttributes instead of failing with QueueAlreadyExists.
 */
export async function createQueues(
  client: SQSClient,
  options: { prefix: string; maxReceiveCount?: number; visibilitySeconds?: number },
  progress: (line: string) => void = () => {},
): Promise<{ urls: QueueUrls; created: string[]; existing: string[] }> {
  const maxReceiveCount = options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 2 || maxReceiveCount > 1000) {
    throw new SluiceError(`maxReceiveCount must be an integer from 2 to 1000 (got ${maxReceiveCount}).`, { code: 'invalid_argument' });
  }
  const visibility = String(options.visibilitySeconds ?? 30);
  const names = queueNames(options.prefix);
  const created: string[] = [];
  const existing: string[] = [];

  async function ensure(role: QueueRole, attributes: Record<string, string>): Promise<string> {
    const name = names[role];
    const fifo = name.endsWith('.fifo');
    let url = await lookUp(client, name);
    if (url) {
      existing.push(name);
      progress(`queue ${name} already exists`);
    } else {
      const fixed: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
      const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: fixed })).catch(unavailable(name, 'CreateQueue'));
      url = out.QueueUrl!;
      created.push(name);
      progress(`created queue ${name}`);
    }
    // High-throughput FIFO: dedup and rate limits per group (chain:wallet lane), not per queue.
    const fifoAttrs: Record<string, string> = fifo ? { ContentBasedDeduplication: 'false', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' } : {};
    await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: visibility, ...fifoAttrs, ...attributes } })).catch(unavailable(name, 'SetQueueAttributes'));
    return url;
  }

  async function arnOf(url: string, name: string): Promise<string> {
    const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })).catch(unavailable(name, 'GetQueueAttributes'));
    return out.Attributes!.QueueArn!;
  }

  async function withRedrive(role: QueueRole, dlqUrl: string, dlqRole: QueueRole): Promise<string> {
    const deadLetterTargetArn = await arnOf(dlqUrl, names[dlqRole]);
    const url = await ensure(role, { MessageRetentionPeriod: String(MAIN_RETENTION_S), RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount }) });
    progress(`redrive ${names[role]} -> ${names[dlqRole]} after ${maxReceiveCount} receives`);
    return url;
  }

  const invalidDlq = await ensure('invalidDlq', { MessageRetentionPeriod: String(DLQ_RETENTION_S) });
  const txDlq = await ensure('txDlq', { MessageRetentionPeriod: String(DLQ_RETENTION_S) });
  const requests = await withRedrive('requests', invalidDlq, 'invalidDlq');
  const signed = await withRedrive('signed', txDlq, 'txDlq');
  return { urls: { requests, signed, invalidDlq, txDlq }, created, existing };
}

/** Explicit SLUICE_…_URL settings win; the rest are looked up by name from SLUICE_QUEUE_PREFIX. */
export async function resolveQueueUrls(client: SQSClient, config: Pick<Config, 'queuePrefix' | (typeof urlKey)[QueueRole]>): Promise<QueueUrls> {
  const names = queueNames(config.queuePrefix);
  const roles = Object.keys(urlKey) as QueueRole[];
  const urls = await Promise.all(
    roles.map(async (role) => {
      const explicit = config[urlKey[role]];
      if (explicit) return explicit;
      const url = await lookUp(client, names[role]);
      if (url) return url;
      throw new SluiceError(`SQS queue ${names[role]} does not exist. Run \`sluice queues create\`, or set ${envNames[urlKey[role]]} to its URL.`, { code: 'queue_missing' });
    }),
  );
  return Object.fromEntries(roles.map((r, i) => [r, urls[i]!])) as QueueUrls;
}

/** The runtime's four queues over SQS; `close()` releases the client's sockets. */
export async function openSqsQueues(config: Config, logger: Logger): Promise<Queues & { close(): void }> {
  const client = new SQSClient(awsClientConfig(config, 'sqs'));
  try {
    const urls = await resolveQueueUrls(client, config);
    if (!urls.signed.endsWith('.fifo')) {
      throw new ConfigError(`${envNames.signedTxQueueUrl} must name a FIFO queue (its name ends in .fifo): each wallet's nonces go out in order.`, { code: 'invalid_config' });
    }
    const log = logger.child({ component: 'sqs' });
    const common = { client, logger: log, visibilitySeconds: config.queueVisibilitySeconds };
    const open = <T>(role: QueueRole, extra: { defaultGroupId?: (body: T) => string; decode?: (body: unknown, meta: { receiveCount: number }) => T } = {}) =>
      createSqsQueue<T>({ ...common, ...extra, url: urls[role], name: queueNames(config.queuePrefix)[role], fifo: urls[role].endsWith('.fifo') });
    // A FIFO request queue or DLQ (operators may point the URLs elsewhere) groups by withdrawal: order across withdrawals does not matter.
    const byWithdrawal = (body: { withdrawalId: string }) => body.withdrawalId;
    return {
      requests: open<RequestMessage>('requests', { defaultGroupId: byWithdrawal }),
      signed: open<SignedMessage>('signed'),
      invalidDlq: open<DeadLetterMessage>('invalidDlq', { defaultGroupId: byWithdrawal, decode: deadLetterBody }),
      txDlq: open<DeadLetterMessage>('txDlq', { defaultGroupId: byWithdrawal, decode: deadLetterBody }),
      close: () => client.destroy(),
    };
  } catch (err) {
    client.destroy();
    throw err;
  }
}

/**
 * A DLQ holds the app's own dead letters and, after an SQS redrive, raw messages of its source
 * queue ({ withdrawalId, … } without a code): those become a dead letter that says so.
 */
export function deadLetterBody(body: unknown, meta: { receiveCount: number }): DeadLetterMessage {
  const b = body as Partial<DeadLetterMessage> | null;
  if (!b || typeof b.withdrawalId !== 'string') throw new Error('dead letter without a withdrawalId');
  if (typeof b.code === 'string') return b as DeadLetterMessage;
  return {
    withdrawalId: b.withdrawalId,
    code: 'sqs_redrive',
    reason: 'SQS moved this message to the DLQ after repeated deliveries without an ack (a consumer crashed or hung on it)',
    attempts: meta.receiveCount,
  };
}

async function lookUp(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (err instanceof QueueDoesNotExist || /QueueDoesNotExist|NonExistentQueue/.test(String((err as { name?: string }).name))) return undefined;
    throw new QueueUnavailableError(name, 'GetQueueUrl', err);
  }
}

function unavailable(name: string, op: string) {
  return (err: unknown): never => {
    throw new QueueUnavailableError(name, op, err);
  };
}
