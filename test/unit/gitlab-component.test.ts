import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * The GitLab CI/CD component as GitLab reads it: a `spec:` header, `---`, then the jobs. A team adopts
 * it as is, so it must not reach into their pipeline (stages, global keys, common job names).
 */
const FILE = new URL('../../templates/gitlab-deploy/template.yml', import.meta.url);
const TEXT = readFileSync(FILE, 'utf8');
const docs = parseAllDocuments(TEXT);

type Obj = Record<string, unknown>;
interface Input {
  type?: string;
  description?: string;
  default?: unknown;
  options?: unknown[];
  regex?: string;
}

const header = (docs[0]?.toJS() ?? {}) as { spec?: { inputs?: Record<string, Input> } };
const body = (docs[1]?.toJS() ?? {}) as Record<string, Obj>;
const inputs = header.spec?.inputs ?? {};
// keys GitLab reads at the top level of a pipeline (not jobs)
const GLOBAL_KEYS = [
  'stages',
  'workflow',
  'default',
  'variables',
  'include',
  'image',
  'services',
  'cache',
  'before_script',
  'after_script',
];
const jobNames = Object.keys(body).filter((k) => !k.startsWith('.') && !GLOBAL_KEYS.includes(k));
/** A job with what it extends merged in (one level, as the component uses it). */
const job = (name: string): Obj => {
  const j = body[name] ?? {};
  const base = typeof j['extends'] === 'string' ? (body[j['extends']] ?? {}) : {};
  return { ...base, ...j, variables: { ...(base['variables'] as Obj), ...(j['variables'] as Obj) } };
};

describe('GitLab CI/CD component templates/gitlab-deploy/template.yml', () => {
  it('is two well-formed YAML documents: the spec header and the jobs', () => {
    expect(docs).toHaveLength(2);
    for (const d of docs) expect(d.errors).toEqual([]);
    expect(Object.keys(header)).toEqual(['spec']);
    expect(Object.keys(inputs).length).toBeGreaterThan(5);
  });

  it('types and describes every input; options hold the default', () => {
    for (const [name, input] of Object.entries(inputs)) {
      expect(['string', 'number', 'boolean', 'array'], `${name}.type`).toContain(input.type);
      expect(typeof input.description === 'string' && input.description.length > 10, `${name}.description`).toBe(true);
      if (input.options) expect(input.options, `${name}.options`).toContain(input.default);
      if (input.default !== undefined && input.type === 'string') expect(typeof input.default, `${name}.default`).toBe('string');
    }
    // the one input without a default: nobody can guess the application's URL
    expect(
      Object.entries(inputs)
        .filter(([, i]) => i.default === undefined)
        .map(([n]) => n),
    ).toEqual(['environment_url']);
  });

  it('uses every input it declares and no other', () => {
    const used = new Set([...TEXT.matchAll(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g)].map((m) => m[1]));
    expect([...used].sort()).toEqual(Object.keys(inputs).sort());
  });

  it('never sets stages or other pipeline-wide keys, and its jobs cannot collide with the includer’s', () => {
    for (const key of GLOBAL_KEYS) expect(body, key).not.toHaveProperty(key);
    expect(jobNames.sort()).toEqual(['bgctl:deploy', 'bgctl:rollback']);
    for (const k of Object.keys(body)) expect(k.startsWith('bgctl:') || k.startsWith('.bgctl:'), k).toBe(true);
    for (const name of jobNames) expect(job(name)['stage']).toBe('$[[ inputs.stage ]]');
    expect(inputs['stage']?.default).toBe('deploy'); // one of GitLab's default stages
  });

  it('every job that moves traffic is serialized per environment, not interruptible, on a production-tier environment', () => {
    for (const name of jobNames) {
      const j = job(name);
      expect(j['resource_group'], name).toBe('bgctl-$[[ inputs.environment ]]');
      expect(j['interruptible'], name).toBe(false);
      expect(j['environment'], name).toEqual({
        name: '$[[ inputs.environment ]]',
        url: '$[[ inputs.environment_url ]]',
        deployment_tier: '$[[ inputs.deployment_tier ]]',
        action: 'start',
      });
      expect(inputs['deployment_tier']?.default).toBe('production');
      // bgctl replaces the job's shell (the last command), so a cancel's SIGTERM reaches it and it returns traffic
      const lines = (j['script'] as string[]).join('\n').trim().split('\n');
      expect(lines.at(-1), name).toMatch(/^exec bgctl .*--json-out bgctl-result\.json$/);
      expect(
        lines.filter((l) => /\bexec\b/.test(l)),
        name,
      ).toHaveLength(1);
    }
  });

  it('deploys only where rules_if holds (default: the default branch); the rollback is manual and optional', () => {
    expect(inputs['rules_if']?.default).toBe('$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH');
    expect(job('bgctl:deploy')['rules']).toEqual([{ if: '$[[ inputs.rules_if ]]', when: '$[[ inputs.when ]]' }]);
    expect(job('bgctl:rollback')['rules']).toEqual([{ if: '$[[ inputs.rules_if ]]', when: 'manual', allow_failure: true }]);
  });

  it('keeps the result as an artifact and passes the colors on as a dotenv report, failures included', () => {
    for (const name of jobNames) {
      expect(job(name)['artifacts'], name).toEqual({
        when: 'always',
        paths: ['bgctl-result.json', 'bgctl-status.json'],
        reports: { dotenv: 'bgctl.env' },
      });
    }
  });

  it('can run in a job container that reaches NGINX through a Docker engine: docker_host, the key from a File variable, known_hosts from another', () => {
    expect(inputs['docker_host']).toMatchObject({ type: 'string', default: '' });
    expect(inputs['ssh_private_key_variable']).toMatchObject({ type: 'string', default: 'BGCTL_SSH_PRIVATE_KEY' });
    expect(inputs['ssh_known_hosts_variable']).toMatchObject({ type: 'string', default: 'BGCTL_SSH_KNOWN_HOSTS' });
    // the variable names reach the shell only as names: GitLab checks them against a plain pattern
    for (const name of ['ssh_private_key_variable', 'ssh_known_hosts_variable']) {
      const re = new RegExp(inputs[name]?.regex ?? '(none)');
      expect(re.test(String(inputs[name]?.default)), name).toBe(true);
      for (const bad of ['A B', '$(id)', 'X;rm', '']) expect(re.test(bad), `${name}: ${bad}`).toBe(false);
    }
    for (const name of jobNames) {
      expect(job(name)['variables'], name).toMatchObject({
        BGCTL_DOCKER_HOST: '$[[ inputs.docker_host ]]',
        BGCTL_SSH_KEY_VARIABLE: '$[[ inputs.ssh_private_key_variable ]]',
        BGCTL_SSH_KNOWN_HOSTS_VARIABLE: '$[[ inputs.ssh_known_hosts_variable ]]',
      });
    }
    const setup = (job('bgctl:deploy')['before_script'] as string[]).join('\n');
    // bgctl reads the engine from BGCTL_DOCKER_HOST (nginx.dockerHost for the run)
    expect(setup).toMatch(/export BGCTL_CONFIG BGCTL_DOCKER_HOST/);
    const ssh = setup.slice(setup.indexOf('ssh://*)'), setup.indexOf(';;'));
    // read by name, never evaluated; missing ones stop the job before anything is done
    expect(ssh).toContain('printenv "$BGCTL_SSH_KEY_VARIABLE"');
    expect(ssh).toContain('printenv "$BGCTL_SSH_KNOWN_HOSTS_VARIABLE"');
    expect(ssh).not.toMatch(/\beval\b/);
    expect(ssh).toMatch(/exit 2/);
    // the key copied to a private file; the host key always checked; one multiplexed connection
    expect(ssh).toMatch(/umask 077 && cat "\$key_file" > "\$ssh_dir\/key"/);
    expect(ssh).toContain("'  StrictHostKeyChecking yes'");
    expect(ssh).not.toMatch(/accept-new|StrictHostKeyChecking no/);
    expect(ssh).toContain("'  ControlMaster auto'");
    expect(ssh).toMatch(/ControlPersist \d+/);
    // the docker client runs `ssh` from PATH: the job's wrapper with its own config comes first
    expect(ssh).toMatch(/exec %s -F %s/);
    expect(ssh).toMatch(/PATH="\$ssh_dir\/bin:\$PATH"/);
    expect((job('bgctl:deploy')['after_script'] as string[]).join('\n')).toContain('rm -rf "/tmp/bgctl-ssh-$CI_JOB_ID"');
  });
});
