import type { Rejection } from "./bindings/Rejection";

/** 1536 → "1.5 KB": decimal units, as file managers on macOS and GNOME show them. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit] ?? "B"}`;
}

export function formatCount(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** The last component of a path, for compact lists. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** Why a dropped path was not added, in words. */
export function describeRejection(r: Rejection): string {
  const name = baseName(r.path);
  switch (r.reason.kind) {
    case "notAFolder":
      return `${name} is a file. Drop folders to add them to the library.`;
    case "notFound":
      return `${name} no longer exists.`;
    case "alreadyInLibrary":
      return `${name} is already in the library.`;
    case "insideLibraryFolder":
      return `${name} is already covered by ${baseName(r.reason.folder)}, which is in the library.`;
    case "unreadable":
      return `${name} cannot be read: ${r.reason.message}`;
  }
}
