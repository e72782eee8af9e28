// A model's memory check as the Models page tracks it, and how its verdicts read.
import type { FitCheck } from "../../lib/ipc";

export type Fit = { state: "checking" } | { state: "ok"; check: FitCheck } | { state: "failed"; message: string };

export const VERDICT_TEXT = { fits: "Fits", fitsShorterContext: "Fits with a shorter context", doesNotFit: "Does not fit" } as const;
