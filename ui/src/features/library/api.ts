// What the library feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands, streams } from "../../lib/ipc";

export const api = {
  libraryLocation: commands.libraryLocation,
  libraryStatus: commands.libraryStatus,
  pauseSemantic: commands.pauseSemantic,
  removeFolder: commands.removeFolder,
  retrySemantic: commands.retrySemantic,
  syncLibraryServer: streams.syncLibraryServer,
};
