import { useState } from "react";

export function AskStep({ hasModel, onAsk }: { hasModel: boolean; onAsk: (question: string) => void }) {
  const [question, setQuestion] = useState("");
  if (!hasModel)
    return (
      <p>
        Ask lets Context-1 search your documents with its own tools and answer with cited sources. It needs the model: download it from the Models page when you are ready. Search works without it.
      </p>
    );
  return (
    <div>
      <p>Ask a question: Context-1 searches your documents with its own tools, ranks what it found, and answers citing the passages.</p>
      <form
        className="search-bar"
        onSubmit={(e) => {
          e.preventDefault();
          if (question.trim() !== "") onAsk(question.trim());
        }}
      >
        <input aria-label="Your question" placeholder="What would you like to know?" value={question} onChange={(e) => { setQuestion(e.target.value); }} />
        <button type="submit" data-testid="welcome-ask">
          Ask
        </button>
      </form>
    </div>
  );
}
