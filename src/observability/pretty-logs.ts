import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Keys every line has, or that are shown in the line's head rather than as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'service', 'role', 'component', 'pid', 'hostname']);

/** One pino JSON line as one human line: `12:00:01 INFO  [signer] signed withdrawalId=… nonce=4`. */
export function formatLogLine(json: string, options: { color?: boolean } = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = Number(entry.level);
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : new Date().toISOString().slice(11, 19);
  const label = LEVELS[level] ?? String(entry.level);
  const where = [entry.role, entry.component].filter(Boolean).join('/');
  const fields = Object.entries(entry)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${k === 'err' ? errorText(v) : typeof v === 'string' ? quote(v) : JSON.stringify(v)}`);
  const head = options.color ? `\x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m` : label;
  return [time, head, where ? `[${where}]` : '', String(entry.msg ?? ''), ...fields].filter(Boolean).join(' ');
}

function quote(v: string): string {
  return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
}

function errorText(v: unknown): string {
  const e = v as { type?: string; message?: string; code?: string };
  const first = String(e?.message ?? v).split('\n')[0];
  return quote(`${e?.type ?? 'Error'}${e?.code ? `(${e.code})` : ''}: ${first}`);
}

/**
 * A destination that prints pino's JSON lines as one human line each (dev on a terminal). Lines
 * written before `release()` are held, so startup logs come out below the banner, not through it.
 */
export function createPrettyDestination(out: NodeJS.WritableStream, options: { color?: boolean } = {}) {
  let held: string[] | null = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        const text = `${formatLogLine(line, options)}\n`;
        if (held) held.push(text);
        else out.write(text);
      }
      done();
    },
  });
  return {
    stream,
    /** Prints what was held and everything after it as it comes. */
    release(): void {
      const lines = held ?? [];
      held = null;
      for (const line of lines) out.write(line);
    },
  };
}
