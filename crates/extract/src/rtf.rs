//! RTF to text. Written by hand: the crates that exist parse RTF into a full document model and
//! pull in far more than plain text needs. Control words are dropped, destinations (`{\*…}`, font
//! and colour tables, pictures) skipped, `\par` and `\line` become line breaks, `\tab` a tab,
//! `\'hh` a Windows-1252 byte and `\uN` a Unicode character (with its fallback skipped).

const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "header",
    "footer",
    "object",
    "themedata",
    "datastore",
    "latentstyles",
    "generator",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "xmlnstbl",
];

pub fn text(rtf: &str) -> String {
    let chars: Vec<char> = rtf.chars().collect();
    let mut out = String::new();
    // Per group: whether its text is skipped, and how many fallback characters follow a \u.
    let mut skip_stack = vec![false];
    let mut uc = 1usize;
    let mut pending_skip = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let skipping = *skip_stack.last().unwrap_or(&false);
        match c {
            '{' => {
                skip_stack.push(skipping);
                i += 1;
            }
            '}' => {
                if skip_stack.len() > 1 {
                    skip_stack.pop();
                }
                i += 1;
            }
            '\\' => {
                i += 1;
                let Some(&next) = chars.get(i) else { break };
                if next == '*' {
                    if let Some(top) = skip_stack.last_mut() {
                        *top = true;
                    }
                    i += 1;
                } else if next == '\'' {
                    let hex: String = chars.iter().skip(i + 1).take(2).collect();
                    i += 3;
                    if pending_skip > 0 {
                        pending_skip -= 1;
                    } else if !skipping {
                        if let Ok(b) = u8::from_str_radix(&hex, 16) {
                            out.push(crate::windows_1252(b));
                        }
                    }
                } else if next.is_ascii_alphabetic() {
                    let start = i;
                    while i < chars.len() && chars[i].is_ascii_alphabetic() {
                        i += 1;
                    }
                    let word: String = chars[start..i].iter().collect();
                    let num_start = i;
                    if i < chars.len() && (chars[i] == '-' || chars[i].is_ascii_digit()) {
                        i += 1;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                    let num: Option<i64> =
                        chars[num_start..i].iter().collect::<String>().parse().ok();
                    if i < chars.len() && chars[i] == ' ' {
                        i += 1;
                    }
                    if SKIPPED.contains(&word.as_str()) {
                        if let Some(top) = skip_stack.last_mut() {
                            *top = true;
                        }
                        continue;
                    }
                    if skipping {
                        continue;
                    }
                    match word.as_str() {
                        "par" | "line" | "sect" | "page" => out.push('\n'),
                        "tab" => out.push('\t'),
                        "uc" => uc = num.unwrap_or(1).max(0) as usize,
                        "u" => {
                            if let Some(n) = num {
                                let code = if n < 0 { n + 65536 } else { n };
                                if let Some(ch) = char::from_u32(code as u32) {
                                    out.push(ch);
                                }
                                pending_skip = uc;
                            }
                        }
                        "emdash" => out.push('—'),
                        "endash" => out.push('–'),
                        "bullet" => out.push('•'),
                        "lquote" => out.push('‘'),
                        "rquote" => out.push('’'),
                        "ldblquote" => out.push('“'),
                        "rdblquote" => out.push('”'),
                        _ => {}
                    }
                } else {
                    // Escaped literal: \\, \{, \}, or a control symbol such as \~ (non-breaking space).
                    if !skipping {
                        match next {
                            '~' => out.push('\u{a0}'),
                            '-' | '_' => {}
                            '\n' | '\r' => out.push('\n'),
                            other => out.push(other),
                        }
                    }
                    i += 1;
                }
            }
            '\r' | '\n' => i += 1,
            _ => {
                if pending_skip > 0 {
                    pending_skip -= 1;
                } else if !skipping {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    out
}
