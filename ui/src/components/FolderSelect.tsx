import { baseName } from "../lib/format";
import type { Folder } from "../lib/ipc";

/** "All folders" or one library folder, by id ("" for all). */
export function FolderSelect({ folders, value, onChange }: { folders: Folder[] | null; value: string; onChange: (id: string) => void }) {
  return (
    <select aria-label="Folder" value={value} onChange={(e) => { onChange(e.target.value); }}>
      <option value="">All folders</option>
      {(folders ?? []).map((f) => (
        <option key={f.id} value={f.id}>
          {baseName(f.path)}
        </option>
      ))}
    </select>
  );
}
