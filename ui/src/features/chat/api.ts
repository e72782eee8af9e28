// What the chat feature asks of Fathom's Rust side: the generated commands it calls
// and its streams, in one place (pages and components call these, never lib/ipc directly).
import { commands, streams } from "../../lib/ipc";

export const api = {
  deleteConversation: commands.deleteConversation,
  exportConversation: commands.exportConversation,
  getConversation: commands.getConversation,
  listConversations: commands.listConversations,
  newConversation: commands.newConversation,
  renameConversation: commands.renameConversation,
  setConversationSetup: commands.setConversationSetup,
  chatReply: streams.chatReply,
};
