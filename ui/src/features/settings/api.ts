// What the settings feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands, streams } from "../../lib/ipc";

export const api = {
  appInfo: commands.appInfo,
  checkForUpdate: commands.checkForUpdate,
  checkLibraryServer: commands.checkLibraryServer,
  diagnostics: commands.diagnostics,
  getSettings: commands.getSettings,
  listFolders: commands.listFolders,
  localApiStatus: commands.localApiStatus,
  newApiToken: commands.newApiToken,
  restartApp: commands.restartApp,
  setCheckUpdates: commands.setCheckUpdates,
  setEngine: commands.setEngine,
  setBackend: commands.setBackend,
  serverModels: commands.serverModels,
  setFirstRunDone: commands.setFirstRunDone,
  setIndexHidden: commands.setIndexHidden,
  setLocalApi: commands.setLocalApi,
  setApiOrigins: commands.setApiOrigins,
  setModelIdleMinutes: commands.setModelIdleMinutes,
  setQuickShortcut: commands.setQuickShortcut,
  setSemanticSearch: commands.setSemanticSearch,
  unloadModel: commands.unloadModel,
  installUpdate: streams.installUpdate,
  setLibraryPlace: streams.setLibraryPlace,
};
