/**
 * Pure: who started a migration, for history. In a GitLab CI job: the job's URL and the user who
 * triggered the pipeline (CI_JOB_URL, GITLAB_USER_LOGIN); anywhere else: user@host.
 */
export function actorOf(env: Readonly<Record<string, string | undefined>>, user: string | null, host: string): string {
  const clean = (v: string | undefined): string | null => {
    const t = v?.trim();
    // one line, bounded: it ends up in state.json and in terminals
    return t
      ? [...t]
          .filter((c) => c >= ' ' && c !== '\u007f')
          .join('')
          .slice(0, 200)
      : null;
  };
  const job = clean(env['CI_JOB_URL']);
  const login = clean(env['GITLAB_USER_LOGIN']);
  if (job) return `GitLab job ${job}${login ? ` (${login})` : ''}`;
  return `${user ?? clean(env['USER']) ?? 'unknown'}@${host}`;
}
