import net from 'node:net';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from './clients.js';

/** Accepts connections and never answers: what a hung load balancer or emulator looks like. */
let server: net.Server;
let endpoint: string;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('awsClientConfig', () => {
  it('gives every service a request timeout that fails the call, SQS one longer than a 20 s long poll', () => {
    for (const service of ['sqs', 'kms', 'secretsManager'] as const) {
      const { requestHandler } = awsClientConfig({ awsRegion: 'eu-west-1' }, service);
      expect(requestHandler.throwOnRequestTimeout).toBe(true);
      expect(requestHandler.connectionTimeout).toBeGreaterThan(0);
      expect(requestHandler.requestTimeout).toBeGreaterThan(0);
    }
    expect(awsClientConfig({ awsRegion: 'eu-west-1' }, 'sqs').requestHandler.requestTimeout).toBeGreaterThan(20_000);
  });

  // The SDK's own requestTimeout only warns: without throwOnRequestTimeout both calls below hang.
  it.each([
    ['sqs', (cfg: ReturnType<typeof awsClientConfig>) => new SQSClient({ ...cfg, maxAttempts: 1 }).send(new SendMessageCommand({ QueueUrl: `${endpoint}/000000000000/q`, MessageBody: 'x' }))],
    ['kms', (cfg: ReturnType<typeof awsClientConfig>) => new KMSClient({ ...cfg, maxAttempts: 1 }).send(new ListKeysCommand({}))],
  ] as const)('a %s endpoint that never answers fails the call at the request timeout instead of hanging it', async (service, call) => {
    const cfg = awsClientConfig({ awsRegion: 'us-east-1', awsEndpointUrl: endpoint }, service);
    // The production timeouts, shortened so the test takes half a second.
    const outcome = await Promise.race([
      call({ ...cfg, requestHandler: { ...cfg.requestHandler, requestTimeout: 300 } }).then(
        () => 'answered',
        (err: Error) => err.name,
      ),
      new Promise((resolve) => setTimeout(resolve, 5_000, 'still hanging')),
    ]);
    expect(outcome).toBe('TimeoutError');
  });
});
