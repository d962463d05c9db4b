// Plugins as Docker finds and speaks to them (libnetwork's remote API, docker/pkg/plugins):
// discovery by name in the plugin directories, then HTTP POST of JSON with the plugin media
// type over a unix socket or TCP, one Plugin.Activate per process and plugin. Node's own
// node:http does the HTTP; nothing here parses it by hand.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type * as Http from 'node:http';
import { NotFoundError, RefusedError, SystemError, UnreachableError } from '../lib/errors.js';
import type { PluginCall } from '../model/records.js';

export const MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';
export const TIMEOUT_MS = 3000;

/** Where plugins are looked for, in order: netctl's own directory first, then Docker's. */
export const DEFAULT_PLUGIN_DIRS = [
  '/run/netctl/plugins',
  '/run/docker/plugins',
  '/etc/docker/plugins',
  '/usr/lib/docker/plugins',
];

/** NETCTL_PLUGIN_DIRS (colon-separated) replaces the default list: tests never write into /etc or /run/docker. */
export function pluginDirs(env: string | undefined = process.env['NETCTL_PLUGIN_DIRS']): string[] {
  const dirs = (env ?? '').split(':').filter(Boolean);
  return dirs.length ? dirs : DEFAULT_PLUGIN_DIRS;
}

export type PluginAddr = { socket: string } | { host: string; port: number };

/** A plugin's name becomes a file name: nothing that could leave the directory. */
export const PLUGIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/**
 * The address of plugin `name`: NAME.sock (or NAME/NAME.sock), NAME.spec or NAME.json in the first directory that has
 * one.
 */
export function discover(name: string, dirs: string[] = pluginDirs()): PluginAddr {
  if (!PLUGIN_NAME.test(name) || name.includes('..')) throw new NotFoundError(`plugin "${name}" not found`);
  for (const dir of dirs) {
    for (const sock of [`${dir}/${name}.sock`, `${dir}/${name}/${name}.sock`]) {
      if (isSocket(sock)) return { socket: sock };
    }
    const spec = `${dir}/${name}.spec`;
    if (existsSync(spec)) return parseAddr(name, readFileSync(spec, 'utf8').trim(), spec);
    const json = `${dir}/${name}.json`;
    if (existsSync(json)) {
      let addr: unknown;
      try {
        addr = (JSON.parse(readFileSync(json, 'utf8')) as { Addr?: unknown }).Addr;
      } catch (e) {
        throw new SystemError(`plugin "${name}": ${json} is not valid JSON (${(e as Error).message})`);
      }
      if (typeof addr !== 'string') throw new SystemError(`plugin "${name}": ${json} has no "Addr"`);
      return parseAddr(name, addr.trim(), json);
    }
  }
  throw new NotFoundError(
    `plugin "${name}" not found`,
    `looked in ${dirs.join(', ')} (NETCTL_PLUGIN_DIRS sets the list)`,
  );
}

/** Names of the plugins in the directories, for completion (unique, sorted). */
export function installedPlugins(dirs: string[] = pluginDirs()): string[] {
  const out = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // a directory that does not exist has no plugins
    }
    for (const f of names) {
      const m = /^(.+)\.(sock|spec|json)$/.exec(f);
      if (m?.[1] && PLUGIN_NAME.test(m[1])) out.add(m[1]);
      else if (PLUGIN_NAME.test(f) && isSocket(`${dir}/${f}/${f}.sock`)) out.add(f);
    }
  }
  return [...out].sort();
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

/** `unix:///path` or `tcp://host:port` (Docker's two plain schemes; TLS is not supported). */
export function parseAddr(name: string, url: string, file: string): PluginAddr {
  const unix = /^unix:\/\/(\/.+)$/.exec(url);
  if (unix?.[1]) return { socket: unix[1] };
  const tcp = /^(?:tcp|http):\/\/(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):(\d{1,5})\/?$/.exec(url);
  if (tcp?.[1] && Number(tcp[2]) > 0 && Number(tcp[2]) < 65536)
    return { host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new SystemError(
    `plugin "${name}": ${file} has an unsupported address ${JSON.stringify(url)} (unix:///path or tcp://host:port)`,
  );
}

/** The plugin answered with `{"Err": …}` (or an HTTP error): it refused, so nothing of this call took effect. */
export class PluginRefused extends RefusedError {}

/** The plugin is installed (its address is known) but does not answer: a later command may reach it. */
export class PluginUnreachable extends UnreachableError {}

// node:http (and the net, stream and agent modules under it) is loaded by the first plugin
// call, not by every command that reaches the driver registry.
let http: typeof Http | undefined;

/** One POST; resolves to the answer's JSON object. */
export async function post(
  name: string,
  addr: PluginAddr,
  method: string,
  body: unknown,
  timeoutMs = TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const data = JSON.stringify(body ?? {});
  const { request } = (http ??= await import('node:http'));
  return new Promise((resolve, reject) => {
    const where = 'socket' in addr ? { socketPath: addr.socket } : { host: addr.host, port: addr.port };
    const req = request(
      {
        ...where,
        path: `/${method}`,
        method: 'POST',
        headers: { 'Content-Type': MEDIA_TYPE, Accept: MEDIA_TYPE, 'Content-Length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', (e) => fail(e));
        res.on('end', () => {
          clearTimeout(timer);
          let answer: Record<string, unknown> = {};
          try {
            const v: unknown = text.trim() ? JSON.parse(text) : {};
            if (v && typeof v === 'object' && !Array.isArray(v)) answer = v as Record<string, unknown>;
          } catch {
            if ((res.statusCode ?? 0) === 200)
              return reject(new SystemError(`remote driver ${name}: ${method}: the answer is not JSON`));
          }
          const err = typeof answer['Err'] === 'string' ? answer['Err'] : '';
          if (err || res.statusCode !== 200)
            return reject(
              new PluginRefused(
                `remote driver ${name}: ${err || `${method}: HTTP ${res.statusCode} ${text.trim().slice(0, 200)}`}`,
              ),
            );
          resolve(answer);
        });
      },
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(new PluginUnreachable(`plugin "${name}" unreachable: ${e.message}`));
    };
    // One deadline for the whole exchange, as Docker's plugin client has.
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer to ${method} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    req.on('error', fail);
    req.end(data);
  });
}

/** What the core needs of plugins (engine tests pass a fake). */
export interface PluginClient {
  call(c: PluginCall): Promise<Record<string, unknown>>;
}

/**
 * The plugins of one process: each found and activated once (Plugin.Activate must list the
 * kind asked for), then called. `log` sees every request, for --debug.
 */
export class Plugins implements PluginClient {
  private readonly active = new Map<string, Promise<{ addr: PluginAddr; implements: unknown[] }>>();

  constructor(
    private readonly dirs: () => string[] = () => pluginDirs(),
    private readonly timeoutMs = TIMEOUT_MS,
  ) {}

  private async activate(name: string, kind: PluginCall['kind']): Promise<PluginAddr> {
    let p = this.active.get(name);
    if (!p) {
      p = (async () => {
        const addr = discover(name, this.dirs());
        const a = await post(name, addr, 'Plugin.Activate', {}, this.timeoutMs);
        return { addr, implements: Array.isArray(a['Implements']) ? (a['Implements'] as unknown[]) : [] };
      })();
      this.active.set(name, p);
      p.catch(() => this.active.delete(name)); // a failed activation is tried again next time
    }
    const { addr, implements: impl } = await p;
    if (!impl.includes(kind))
      throw new PluginRefused(
        `plugin "${name}" does not implement ${kind} (it implements ${impl.map(String).join(', ') || 'nothing'})`,
      );
    return addr;
  }

  async call(c: PluginCall): Promise<Record<string, unknown>> {
    const addr = await this.activate(c.plugin, c.kind);
    return post(c.plugin, addr, c.method, c.body, this.timeoutMs);
  }
}
