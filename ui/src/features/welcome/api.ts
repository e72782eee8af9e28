// What the welcome feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands } from "../../lib/ipc";

export const api = {
  checkFit: commands.checkFit,
  listModels: commands.listModels,
  searchLibrary: commands.searchLibrary,
  setActiveModel: commands.setActiveModel,
};
