import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QuickQuery } from "./QuickQuery";
import "../styles.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QuickQuery />
    </StrictMode>,
  );
}
