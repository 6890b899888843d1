import { z } from 'zod';
import { VERSION_RE, VERSION_RULE } from './color.js';
import { readSteps } from './plan.js';
import { STRATEGIES } from './strategy.js';

/**
 * The options of a gradual migration, checked by one schema wherever they come from: `bgctl gradual`
 * maps its flags onto it, the control API parses the body of `POST /switch/:color` with it. Each
 * surface names a bad field its own way (`--step-seconds` / `stepSeconds`); the rules are these.
 */

/** The longest observation a step may be given (one day), in seconds. */
export const MAX_STEP_SECONDS = 86400;

const stepsList = z
  .array(z.number('steps are whole percentages').int('steps are whole percentages'))
  .min(1, 'needs at least one step')
  .max(100);
const stepsText = z.string().max(400);

/** A list of whole percentages, or the text form `25,50,100`; either way read by readSteps (1-100, increasing, ends at 100). */
const steps = z.unknown().transform((value, ctx): number[] => {
  const list =
    typeof value === 'string' ? stepsText.safeParse(value, { reportInput: true }) : stepsList.safeParse(value, { reportInput: true });
  if (!list.success) {
    // one problem with the steps at a time: the first
    const first = list.error.issues[0];
    ctx.addIssue(first ? { ...first } : { code: 'custom', message: 'invalid', input: value });
    return z.NEVER;
  }
  const r = readSteps(typeof list.data === 'string' ? list.data : list.data.join(','));
  if ('problem' in r) {
    ctx.addIssue({ code: 'custom', message: r.problem, input: value });
    return z.NEVER;
  }
  return r.steps;
});

export const gradualOptionsSchema = z.strictObject({
  version: z.string().regex(VERSION_RE, `not a valid version (${VERSION_RULE})`).optional(),
  stepSeconds: z.number().min(0, `must be 0-${MAX_STEP_SECONDS}`).max(MAX_STEP_SECONDS, `must be 0-${MAX_STEP_SECONDS}`).optional(),
  strategy: z.enum(STRATEGIES).optional(),
  dryRun: z.boolean().optional(),
  // last: a problem elsewhere in the options is named before one in the steps
  steps: steps.optional(),
});

export type GradualOptionsParsed = z.output<typeof gradualOptionsSchema>;
