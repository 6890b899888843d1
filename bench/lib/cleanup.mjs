/**
 * One place that knows everything the bench started (backends, nginx, the load worker, temp dirs),
 * so it is all undone at the end: after success, after an error, on Ctrl-C, and when the global time
 * budget runs out. Undo steps run last-in first-out, each one bounded and isolated from the others.
 */
const steps = [];

/** Registers an undo step; returns a function that runs it early (and only once). */
export function defer(label, fn) {
  const step = { label, fn, done: false };
  steps.push(step);
  return () => runStep(step);
}

/**
 * Like defer, for something that usually ends by itself (a CLI call in flight): returns release(),
 * which drops the undo step without running it once the thing is over.
 */
export function track(label, fn) {
  const step = { label, fn, done: false };
  steps.push(step);
  return () => {
    step.done = true;
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

async function runStep(step, timeoutMs = 20_000) {
  if (step.done) return;
  step.done = true;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([step.fn(), timeout]);
  } catch (error) {
    process.stderr.write(`bench: cleanup "${step.label}" failed: ${error?.message ?? error}\n`);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every pending undo step, newest first. Safe to call more than once. */
export async function cleanupAll() {
  while (steps.length > 0) await runStep(steps.pop());
}

/**
 * Ctrl-C, SIGTERM and the global deadline all end the same way: clean up, then exit.
 * Returns a function that disarms the deadline once the bench finished normally.
 */
export function guard(budgetMs) {
  let exiting = false;
  const bail = async (why, code) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\nbench: ${why}; cleaning up\n`);
    await cleanupAll();
    process.exit(code);
  };
  process.on('SIGINT', () => void bail('interrupted', 130));
  process.on('SIGTERM', () => void bail('terminated', 143));
  const deadline = setTimeout(() => void bail(`time budget of ${Math.round(budgetMs / 1000)} s exceeded`, 1), budgetMs);
  return () => clearTimeout(deadline);
}
