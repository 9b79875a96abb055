/**
 * What a setting is, and the formats that read and check its value: the same rules whichever
 * source (file, environment, flag) the value comes from.
 */
import convict from 'convict';
import * as net from 'node:net';
import { parseDuration } from '../util/duration';
import { parseSize } from './size';

/**
 * How a setting's text (from the environment, a flag or a JSON string) is read and checked. These
 * are registered with convict as custom formats, so convict converts values the same way whichever
 * source they come from.
 */
export type FormatName =
  | 'text'
  | 'path'
  | 'count'
  | 'size'
  | 'umask'
  | 'bool'
  | 'log-level'
  | 'listen'
  | 'url'
  | 'store-url'
  | 'duration'
  | 'cidr-list'
  | 'workers';

/** One leaf of the schema: a convict property, plus the bounds our formats check. */
export interface Setting {
  readonly doc: string;
  readonly format: FormatName;
  /** In the shape a person writes it (sizes as "1G", umask as "022"). */
  readonly default: string | number | boolean;
  readonly env: string;
  /** Command-line flag without the leading "--". */
  readonly arg: string;
  /** Bounds of a 'count' (min defaults to 0, max to none); a 'size' checks max. */
  readonly min?: number;
  readonly max?: number;
  /** A 'text' that may be empty. */
  readonly allowEmpty?: boolean;
  /** Never echoed in error messages. */
  readonly sensitive?: boolean;
}

/** The schema mirrors `Config` key for key, so the compiler catches a missing or stray setting. */
export type SchemaOf<T> = {
  readonly [K in keyof T]: T[K] extends object ? SchemaOf<T[K]> : Setting;
};

/**
 * Why a value was refused: a rule it breaks, shown after the key ("port must be an integer from 0
 * to 65535 (got 70000)"), or a parser's own complaint, shown after "key: ".
 */
export type Refusal = { rule: string; got: unknown } | { complaint: string };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function isSetting(node: unknown): node is Setting {
  return (
    isObject(node) &&
    'default' in node &&
    typeof node.format === 'string' &&
    node.format in FORMATS &&
    typeof node.env === 'string' &&
    typeof node.arg === 'string'
  );
}

/** The problem with a value already converted by its format, or undefined when it is fine. */
export function checkValue(value: unknown, setting: Setting): Refusal | undefined {
  return FORMATS[setting.format].check(value, setting);
}

/** One line of text about a refused value, e.g. "port must be an integer from 0 to 65535 (got 70000)". */
export function describeRefusal(key: string, refusal: Refusal, setting?: Setting): string {
  if ('complaint' in refusal) return `${key}: ${refusal.complaint}`;
  if (setting?.sensitive) return `${key} ${refusal.rule}`;
  return `${key} ${refusal.rule} (got ${showValue(refusal.got)})`;
}

export function showValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/**
 * Registers our formats with convict. Convict keeps formats in its own module-wide table; adding
 * the same functions again is harmless, so every load may call this.
 */
export function addConfigFormats(): void {
  for (const [name, format] of Object.entries(FORMATS)) {
    convict.addFormat({
      name,
      validate: (value: unknown, node: unknown) => {
        if (!isSetting(node)) return;
        const refusal = format.check(value, node);
        if (refusal) throw new Error(describeRefusal('value', refusal, node));
      },
      coerce: (text: string) => format.convert(text),
    });
  }
}

interface FormatRules {
  /** Reads text from the environment, a flag or a JSON string. Leaves text it cannot read as is,
   * so that `check` reports it with the setting's name (convict would lose the name). */
  convert(text: string): unknown;
  check(value: unknown, setting: Setting): Refusal | undefined;
}

const FORMATS: Readonly<Record<FormatName, FormatRules>> = {
  text: {
    convert: (text) => text,
    check: (value, setting) => {
      if (typeof value !== 'string') return { rule: 'must be a string', got: value };
      if (value === '' && !setting.allowEmpty) return { rule: 'must not be empty', got: value };
      return undefined;
    },
  },
  path: {
    convert: (text) => text,
    check: (value) =>
      typeof value === 'string' && value.trim() !== '' && !value.includes('\0')
        ? undefined
        : { rule: 'must be a directory path', got: value },
  },
  count: {
    convert: (text) => (/^\s*[+-]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text),
    check: (value, setting) => {
      const min = setting.min ?? 0;
      const max = setting.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
        return undefined;
      }
      const rule =
        setting.max === undefined
          ? `must be an integer of at least ${min}`
          : `must be an integer from ${min} to ${max}`;
      return { rule, got: value };
    },
  },
  size: {
    convert: (text) => {
      try {
        return parseSize(text);
      } catch {
        return text;
      }
    },
    check: (value, setting) => {
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
        if (setting.max === undefined || value <= setting.max) return undefined;
        return { rule: `must be at most ${setting.max} bytes`, got: value };
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        return { rule: 'must be a size like 500M or 1G', got: value };
      }
      try {
        parseSize(value);
      } catch (err) {
        return { complaint: err instanceof Error ? err.message : String(err) };
      }
      // Text that parses would have been converted; reaching here means a caller skipped convert.
      return { rule: 'must be converted to bytes before it is checked', got: value };
    },
  },
  umask: {
    convert: (text) => (/^\s*[0-7]{1,4}\s*$/.test(text) ? parseInt(text, 8) : text),
    check: (value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o777
        ? undefined
        : { rule: "must be an octal mode from '000' to '777'", got: value },
  },
  bool: {
    // convict's own Boolean format turns every text but "false" into true, so "no" would mean yes.
    convert: (text) => {
      const word = text.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(word)) return true;
      if (['false', 'no', 'off', '0'].includes(word)) return false;
      return text;
    },
    check: (value) =>
      typeof value === 'boolean' ? undefined : { rule: 'must be true or false', got: value },
  },
  listen: {
    convert: (text) => text.trim(),
    check: (value) =>
      typeof value === 'string' && (value === '' || parseListen(value) !== undefined)
        ? undefined
        : {
            rule: 'must be host:port (port 0 to 65535; [addr]:port for IPv6) or empty',
            got: value,
          },
  },
  url: {
    convert: (text) => text.trim(),
    check: (value) =>
      typeof value === 'string' &&
      (value === '' || (/^https?:\/\/[^\s]+$/i.test(value) && URL.canParse(value)))
        ? undefined
        : { rule: 'must be an http:// or https:// URL or empty', got: value },
  },
  'store-url': {
    convert: (text) => text.trim(),
    check: (value) => {
      if (value === '') return undefined;
      const rule = 'must be empty or a URL like postgres://USER:PASSWORD@HOST:PORT/DATABASE';
      if (typeof value !== 'string') return { rule, got: value };
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return { rule, got: value };
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
        return { rule, got: value };
      if (url.hostname === '') return { rule: 'must name a host (postgres://HOST/…)', got: value };
      return undefined;
    },
  },
  duration: {
    convert: (text) => parseDuration(text) ?? text,
    check: (value, setting) => {
      const min = setting.min ?? 0;
      const max = setting.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
        return undefined;
      }
      return {
        rule: `must be a duration from ${min} to ${max} seconds, like 90s, 5m or 1h`,
        got: value,
      };
    },
  },
  'cidr-list': {
    convert: (text) => text,
    check: (value) => {
      if (typeof value !== 'string') return { rule: 'must be a list of addresses', got: value };
      const bad = splitCidrList(value).find((entry) => parseCidr(entry) === undefined);
      return bad === undefined
        ? undefined
        : {
            rule: `must be addresses or networks separated by commas, like 10.0.0.0/8,fd00::/8 ('${bad}' is neither)`,
            got: value,
          };
    },
  },
  'log-level': {
    convert: (text) => text.trim().toLowerCase(),
    check: (value) =>
      typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)
        ? undefined
        : { rule: `must be one of ${LOG_LEVELS.join(', ')}`, got: value },
  },
  // A count within the setting's bounds, or 'auto' (one per CPU core).
  workers: {
    convert: (text) => {
      const word = text.trim().toLowerCase();
      return /^\d+$/.test(word) ? Number(word) : word;
    },
    check: (value, setting) => {
      if (value === 'auto') return undefined;
      const min = setting.min ?? 1;
      const max = setting.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
        return undefined;
      }
      return { rule: `must be auto or an integer from ${min} to ${max}`, got: value };
    },
  },
};

/** host:port (IPv6 in brackets) as a listener address, or undefined when it is not one. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.%\w]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The entries of a comma-separated list of addresses and networks. */
export function splitCidrList(text: string): string[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** "10.0.0.0/8", "fd00::/8" or a single address; undefined when it is none of these. */
export function parseCidr(
  entry: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = entry.split('/');
  if (extra !== undefined) return undefined;
  const version = net.isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: bits, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return { address, prefix: Number(prefixText), family };
}
