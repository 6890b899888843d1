import { writeSync } from 'node:fs';
import { pino, stdSerializers, stdTimeFunctions } from 'pino';
import type { Logger } from '../app/ports.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** true: one pino JSON object a line; false: short human lines (`WARN lock reclaimed pid=123`). */
  readonly json: boolean;
  /** Where finished lines go; default: synchronous writes to fd 2 (stderr). Tests pass a collector. */
  readonly write?: (line: string) => void;
}

/** Synchronous so that nothing is lost when main.ts exits right after logging. Never stdout: results go there. */
const writeStderr = (line: string): void => {
  writeSync(2, line);
};

const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const INTERNAL_KEYS = new Set(['level', 'time', 'msg']); // base: null, so pid/hostname are the caller's own fields

/** Turns one pino JSON line into `WARN message key=value ...`; pino-pretty is not a dependency. */
export function humanLine(jsonLine: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const label = LABELS[Number(rec['level'])] ?? String(rec['level']);
  const fields = Object.entries(rec)
    .filter(([k]) => !INTERNAL_KEYS.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return (
    [label.padEnd(5), typeof rec['msg'] === 'string' ? rec['msg'] : formatValue(rec['msg'] ?? ''), ...fields].join(' ').trimEnd() + '\n'
  );
}

function formatValue(v: unknown): string {
  // serialized errors: the message is what a person needs; the stack is in --json output
  if (v !== null && typeof v === 'object' && 'message' in v && 'type' in v) return JSON.stringify((v as { message: unknown }).message);
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? writeStderr;
  const stream = { write: options.json ? write : (line: string) => write(humanLine(line)) };
  const p = pino(
    {
      level: options.level,
      base: null, // no pid/hostname on every line: bgctl is one short-lived process
      timestamp: options.json ? stdTimeFunctions.isoTime : false,
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
    },
    stream, // a plain object with write(): pino calls it synchronously, one line at a time
  );
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (fields === undefined) p[level](msg);
      else p[level](fields, msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
