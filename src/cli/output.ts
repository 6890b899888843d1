import type { Streams } from '../report/progress.js';

export { createReporter, formatEvent, formatFigures, type Streams } from '../report/progress.js';

/** Where results go: stdout, as human text or as one JSON document (--json). */
export interface Output {
  readonly json: boolean;
  readonly tty: boolean;
  /** a line of human text to stdout (suppressed with --json) */
  line(text: string): void;
  /** the command's result: printed as JSON with --json, else by `human` */
  result(value: unknown, human: () => void): void;
}

/** `onResult` sees every result document (--json-out saves the last one), whatever is printed. */
export function createOutput(streams: Streams, json: boolean, onResult?: (value: unknown) => void): Output {
  const tty = Boolean(streams.stdout.isTTY) && !json;
  return {
    json,
    tty,
    line: (text) => {
      if (!json) streams.stdout.write(`${text}\n`);
    },
    result: (value, human) => {
      onResult?.(value);
      if (json) streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else human();
    },
  };
}
