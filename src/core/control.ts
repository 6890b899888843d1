import { z } from 'zod';

/**
 * Control of a running migration from anywhere on the host: a request names what to do and who asks
 * (user@host, or the API caller); the engine that runs the migration answers each one with an ack.
 * Pure data and its schema; the files that carry them live in adapters/control-file.ts.
 */
export const CONTROL_ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export interface ControlRequest {
  readonly action: ControlAction;
  /** who asks: `user@host`, `api 127.0.0.1 (curl/8.0)`, `alert error_rate:green` */
  readonly by: string;
  /** promote: straight to the last step */
  readonly full: boolean;
}

export interface ControlAck {
  readonly action: ControlAction;
  readonly by: string;
  /** false: nothing changed (already paused, not paused) */
  readonly changed: boolean;
  readonly message: string;
}

/** A request as written to a file: for one migration (by id), with a unique id the answer is filed under. */
export const controlRequestSchema = z.strictObject({
  id: z.string().regex(/^[0-9A-Za-z-]{1,64}$/),
  migration: z.string().max(64),
  action: z.enum(CONTROL_ACTIONS),
  by: z.string().min(1).max(200),
  full: z.boolean(),
  at: z.string(),
});
export type ControlFileRequest = z.infer<typeof controlRequestSchema>;

export const controlAckSchema = z.strictObject({
  id: z.string(),
  action: z.enum(CONTROL_ACTIONS),
  by: z.string(),
  changed: z.boolean(),
  /** false: the request was not for the running migration, or came when it could not be acted on */
  accepted: z.boolean(),
  message: z.string(),
  at: z.string(),
});
export type ControlFileAck = z.infer<typeof controlAckSchema>;

/** What a migration records about control: paused by whom since when, and every action taken on it. */
export const pausedSchema = z.strictObject({ by: z.string(), since: z.string() });
export const controlEntrySchema = z.strictObject({ action: z.enum(CONTROL_ACTIONS), by: z.string(), at: z.string(), message: z.string() });
export type ControlEntry = z.infer<typeof controlEntrySchema>;
