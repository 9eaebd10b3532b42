/**
 * Stable digests of structured values (preprocessing parameters, generation parameters, conversations).
 *
 * Two values that mean the same thing must hash the same no matter how they were built, so objects are written with
 * their keys sorted and nothing else is left to chance: numbers use ECMAScript's shortest round-trip form (`-0` is
 * written `0`), strings use JSON escaping. Anything JSON cannot say exactly (`undefined`, NaN, Infinity, functions,
 * class instances, sparse arrays) is refused with a TypeError instead of being silently dropped or rewritten, because a
 * dropped field would let two different requests share a cache entry.
 */

import { createHash } from "node:crypto";
import type { Brand } from "@/lib/ids";

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** SHA-256 (64 lowercase hex chars) of a canonical JSON text. */
export type Digest = Brand<string, "Digest">;

export function canonicalJson(value: JsonValue): string {
  return write(value, "$");
}

export function digestJson(value: JsonValue): Digest {
  return createHash("sha256").update(canonicalJson(value), "utf8").digest("hex") as Digest;
}

function write(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`canonicalJson: ${path} is ${value}, which JSON cannot represent`);
      return Object.is(value, -0) ? "0" : JSON.stringify(value);
    case "object":
      return Array.isArray(value) ? writeArray(value, path) : writeObject(value as object, path);
    default:
      throw new TypeError(`canonicalJson: ${path} is a ${typeof value}, which JSON cannot represent`);
  }
}

function writeArray(items: readonly unknown[], path: string): string {
  const parts: string[] = [];
  for (let i = 0; i < items.length; i++) {
    if (!(i in items)) throw new TypeError(`canonicalJson: ${path}[${i}] is a hole in a sparse array`);
    parts.push(write(items[i], `${path}[${i}]`));
  }
  return `[${parts.join(",")}]`;
}

function writeObject(object: object, path: string): string {
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `canonicalJson: ${path} is a ${proto?.constructor?.name ?? "class instance"}, not a plain object`,
    );
  }
  const record = object as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${write(record[key], `${path}.${key}`)}`).join(",")}}`;
}
