import { lstat, mkdir, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlFiles } from '../../src/adapters/control-file.js';
import { DEFAULT_POLICY, rulesOf } from '../../src/serve/alerts.js';
import { parseAlertmanager, rollbackAlertOf } from '../../src/serve/alertmanager.js';
import { parseServeOptions } from '../../src/serve/options.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeTmpDir(d);
});

describe('Alertmanager webhook payload (version 4)', () => {
  const base = {
    receiver: 'bgctl',
    status: 'firing',
    version: '4',
    groupKey: '{}:{alertname="HighErrors"}',
    truncatedAlerts: 0,
    groupLabels: { alertname: 'HighErrors' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
  };
  const alert = (status: string, labels: Record<string, string>, summary?: string) => ({
    status,
    labels,
    annotations: summary ? { summary } : {},
    startsAt: '2026-12-04T22:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://127.0.0.1:9090/graph',
    fingerprint: 'c6eadffa33fcdf37',
  });

  it('rolls back on a firing alert labelled bgctl_rollback="true", named with its summary', () => {
    const p = parseAlertmanager({
      ...base,
      alerts: [alert('firing', { alertname: 'Other' }), alert('firing', { alertname: 'HighErrors', bgctl_rollback: 'true' }, 'green 5xx')],
    });
    expect(rollbackAlertOf(p)).toEqual({ name: 'HighErrors', by: 'alert HighErrors (Alertmanager: green 5xx)' });
  });

  it('resolved, unlabelled or differently labelled alerts change nothing', () => {
    for (const a of [
      alert('resolved', { alertname: 'A', bgctl_rollback: 'true' }),
      alert('firing', { alertname: 'B' }),
      alert('firing', { alertname: 'C', bgctl_rollback: 'false' }),
    ])
      expect(rollbackAlertOf(parseAlertmanager({ ...base, alerts: [a] }))).toBeNull();
  });

  it('refuses malformed payloads with the field that is wrong', () => {
    expect(() => parseAlertmanager(undefined)).toThrow(/not an Alertmanager webhook payload/);
    expect(() => parseAlertmanager({ ...base, version: '3', alerts: [] })).toThrow(/version/);
    expect(() => parseAlertmanager({ ...base, alerts: [{ status: 'firing' }] })).toThrow(/alerts\.0\.labels/);
    expect(() => parseAlertmanager({ ...base, alerts: [{ status: 'burning', labels: {} }] })).toThrow(/alerts\.0\.status/);
  });

  it('a hostile alert name cannot inject lines into the reason', () => {
    const p = parseAlertmanager({ ...base, alerts: [alert('firing', { alertname: 'A\nFAKE: ok', bgctl_rollback: 'true' })] });
    expect(rollbackAlertOf(p)?.by).toBe('alert A FAKE: ok (Alertmanager)');
  });
});

describe('alert rules that roll back', () => {
  it("default on for the new color's error rate and availability, off for latency, host CPU and memory", () => {
    const r = Object.fromEntries(rulesOf(DEFAULT_POLICY).map((x) => [x.id, x.rollback]));
    expect(r).toEqual({ p95_latency: false, error_rate: true, availability: true, host_cpu: false, host_memory: false });
    expect(rulesOf(DEFAULT_POLICY, []).every((x) => !x.rollback)).toBe(true);
  });

  it('serve --alert-rollback picks the rules (none: alerts only notify) and refuses unknown ones with exit 2', () => {
    expect(parseServeOptions({}, {}).alerts.rollback).toEqual(['error_rate', 'availability']);
    expect(parseServeOptions({ alertRollback: 'none' }, {}).alerts.rollback).toEqual([]);
    expect(parseServeOptions({ alertRollback: 'error_rate,host_cpu' }, {}).alerts.rollback).toEqual(['error_rate', 'host_cpu']);
    expect(() => parseServeOptions({ alertRollback: 'error_rate,disk' }, {})).toThrow(/--alert-rollback: a comma-separated list/);
  });
});

describe('control request files', () => {
  it('are written 0600 in a 0700 folder, taken oldest first, answered once', async () => {
    const dir = await makeTmpDir('control-files');
    dirs.push(dir);
    const c = new ControlFiles(dir);
    await c.send({ id: 'b', migration: 'm1', action: 'resume', by: 'x@h', full: false, at: '2026-01-01T00:00:02Z' });
    await c.send({ id: 'a', migration: 'm1', action: 'pause', by: 'x@h', full: false, at: '2026-01-01T00:00:01Z' });
    expect(((await stat(path.join(dir, 'control', 'req-a.json'))).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(path.join(dir, 'control'))).mode & 0o777).toString(8)).toBe('700');
    expect((await c.pending()).map((r) => r.id)).toEqual(['a', 'b']);
    await c.answer({ id: 'a', action: 'pause', by: 'x@h', changed: true, accepted: true, message: 'paused', at: 'T' });
    expect((await c.pending()).map((r) => r.id)).toEqual(['b']);
    expect(await c.takeAnswer('a')).toMatchObject({ accepted: true, message: 'paused' });
    expect(await c.takeAnswer('a')).toBeNull();
    expect(await c.withdraw('b')).toBe(true);
    expect(await c.withdraw('b')).toBe(false);
  });

  it('removes answers nobody took after 10 minutes, keeps fresh ones', async () => {
    const dir = await makeTmpDir('control-files');
    dirs.push(dir);
    const c = new ControlFiles(dir);
    await c.answer({ id: 'old', action: 'pause', by: 'x@h', changed: true, accepted: true, message: 'paused', at: 'T' });
    await c.answer({ id: 'new', action: 'pause', by: 'x@h', changed: false, accepted: true, message: 'paused', at: 'T' });
    const old = new Date(Date.now() - 11 * 60_000);
    await utimes(path.join(dir, 'control', 'ack-old.json'), old, old);
    await c.pending();
    expect((await readdir(path.join(dir, 'control'))).sort()).toEqual(['ack-new.json']);
  });

  it('drops malformed requests and refuses a control folder that is a link', async () => {
    const dir = await makeTmpDir('control-files');
    dirs.push(dir);
    await mkdir(path.join(dir, 'control'));
    await writeFile(path.join(dir, 'control', 'req-x.json'), '{"action":"abort"}');
    const c = new ControlFiles(dir);
    expect(await c.pending()).toEqual([]);
    expect(await readdir(path.join(dir, 'control'))).toEqual([]);

    const other = await makeTmpDir('control-elsewhere');
    dirs.push(other);
    const linked = await makeTmpDir('control-linked');
    dirs.push(linked);
    await symlink(other, path.join(linked, 'control'));
    await expect(
      new ControlFiles(linked).send({ id: 'a', migration: 'm', action: 'abort', by: 'x', full: false, at: 'T' }),
    ).rejects.toThrow(/not a folder \(a link\?\)/);
    expect(await readdir(other)).toEqual([]);
    expect((await lstat(path.join(linked, 'control'))).isSymbolicLink()).toBe(true);
  });
});
