/** Progress lines on stderr: one line per phase, rewritten in place on a terminal. */
export type Progress = {
  /** A new phase (kept on screen). */
  phase(scenario: string, what: string): void;
  /** How far the current phase is (rewritten on a TTY, every few seconds otherwise). */
  update(text: string): void;
  done(): void;
};

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  const started = Date.now();
  let current = '';
  let lastPlain = 0;
  let transient = false;
  const clock = () => {
    const s = Math.round((Date.now() - started) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  };
  const clear = () => {
    if (tty && transient) stream.write('\r\x1b[2K');
    transient = false;
  };
  return {
    phase(scenario, what) {
      clear();
      current = `[${scenario}] ${what}`;
      stream.write(`${clock()} ${current}\n`);
    },
    update(text) {
      const line = `${clock()} ${current}: ${text}`;
      if (tty) {
        stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 200) - 1)}`);
        transient = true;
      } else if (Date.now() - lastPlain >= 5_000) {
        lastPlain = Date.now();
        stream.write(`${line}\n`);
      }
    },
    done: clear,
  };
}
