import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * JSON logs (Logstash-ready) with stable keys: withdrawalId, chainId, wallet, nonce, txHash.
 * Anything that could carry a secret is redacted by path, whatever the caller logged.
 */
export function createLogger(options: { level: string; name?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'sluice', ...(options.name ? { role: options.name } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'privateKey',
          '*.privateKey',
          'password',
          '*.password',
          'apiKey',
          '*.apiKey',
          'key',
          'req.headers.authorization',
          'headers.authorization',
          'req.headers.cookie',
          'headers.cookie',
          'headers["set-cookie"]',
          'cookie',
          'sessionCookie',
          'adminPassword',
          '*.adminPassword',
          'secret',
          '*.secret',
          'mnemonic',
          'keystorePassword',
          '*.keystorePassword',
          'config.devApiKey',
          'config.devAdminPassword',
          'config.keystorePassword',
          'config.dbUrl',
        ],
        censor: '[redacted]',
      },
    },
    options.destination as DestinationStream | undefined,
  );
}

export type { Logger };
