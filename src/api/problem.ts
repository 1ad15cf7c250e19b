import type { FastifyReply } from 'fastify';
import { SluiceError } from '../errors/base.js';

/**
 * An error the API answers with as application/problem+json: { type, title, status, detail, code }.
 * `code` is the stable, documented part clients branch on.
 */
export class ProblemError extends SluiceError {
  override name = 'ProblemError';
  constructor(
    readonly status: number,
    code: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail, { code });
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemBody(status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  return {
    type: `https://sluice.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).type('application/problem+json').send(problemBody(status, code, detail, extra));
}

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
  },
} as const;
