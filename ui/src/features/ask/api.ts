// What the ask feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands, streams } from "../../lib/ipc";

export const api = {
  deleteRun: commands.deleteRun,
  getRun: commands.getRun,
  getSettings: commands.getSettings,
  listRuns: commands.listRuns,
  askLibrary: streams.askLibrary,
};
