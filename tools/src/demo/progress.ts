// The live progress line: rewritten in place on a terminal, a plain line every few seconds otherwise (a log or a
// pipe should not fill with carriage returns).
import type { WriteStream } from 'node:tty';

export class Progress {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #everyMs: number;
  #lastPrinted = 0;
  #shown = false;

  constructor(out: NodeJS.WritableStream & Partial<Pick<WriteStream, 'isTTY'>>, everyMs = 2000) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#everyMs = everyMs;
  }

  /** Shows `text`: at once on a terminal, at most every `everyMs` otherwise (`force` prints regardless). */
  update(text: string, force = false): void {
    if (this.#tty) {
      const columns = (this.#out as WriteStream).columns || 120;
      this.#out.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
      this.#shown = true;
      return;
    }
    const now = Date.now();
    if (!force && now - this.#lastPrinted < this.#everyMs) return;
    this.#lastPrinted = now;
    this.#out.write(`${text}\n`);
  }

  /** Clears the line on a terminal, so what follows starts on a clean line. */
  done(): void {
    if (this.#tty && this.#shown) this.#out.write('\r\x1b[2K');
    this.#shown = false;
  }
}
