// What the models feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands } from "../../lib/ipc";

export const api = {
  checkFit: commands.checkFit,
  deleteModel: commands.deleteModel,
  getSettings: commands.getSettings,
  listModels: commands.listModels,
  memoryInfo: commands.memoryInfo,
  revealModel: commands.revealModel,
  setActiveModel: commands.setActiveModel,
  setHfToken: commands.setHfToken,
};
