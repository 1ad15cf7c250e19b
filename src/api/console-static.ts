import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from './problem.js';

/** admin/dist of this install: two levels up from src/api/ and from dist/api/ alike. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../admin/dist', import.meta.url));

/**
 * The operator console (a single-page app) at /admin from its built files: a file that exists is
 * served as is; any other /admin path gets index.html so the app's own router handles it.
 * /admin/api/* is never the app: an unknown API path is a problem+json 404. Without a build the
 * console paths answer 404 `console_not_built`.
 */
export async function registerConsole(app: FastifyInstance, dir: string = DEFAULT_CONSOLE_DIR): Promise<void> {
  const root = path.resolve(dir);
  const built = fs.existsSync(path.join(root, 'index.html'));
  await app.register(async (scope) => {
    if (built) await scope.register(fastifyStatic, { root, serve: false });
    const handler = async (request: { params: unknown; method: string; url: string }, reply: import('fastify').FastifyReply) => {
      const rest = ((request.params as { '*'?: string })['*'] ?? '').split('?')[0]!;
      if (rest === 'api' || rest.startsWith('api/')) return sendProblem(reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`);
      if (!built) return sendProblem(reply, 404, 'console_not_built', `The console is not built: no ${path.join(root, 'index.html')}.`);
      const file = path.resolve(root, rest);
      if (rest && file.startsWith(root + path.sep) && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        // Vite names assets by content hash: cache them for good; index.html never.
        return reply.sendFile(path.relative(root, file), { maxAge: rest.startsWith('assets/') ? 31_536_000_000 : 0, immutable: rest.startsWith('assets/') });
      }
      return reply.header('Cache-Control', 'no-cache').sendFile('index.html', { maxAge: 0 });
    };
    scope.get('/admin', { schema: { hide: true } }, handler);
    scope.get('/admin/*', { schema: { hide: true } }, handler);
  });
}
