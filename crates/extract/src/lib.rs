//! Text out of the files people keep, for indexing: plain text, Markdown, source code, HTML, PDF
//! (text layer, page by page), DOCX, ODT, PPTX, EPUB, RTF, XLSX, CSV/TSV and JSON. Every format
//! returns plain text plus where its pages start; a file that cannot be read says why, and limits on
//! size (of the file, of what a zip inflates to, of the text) stop pathological files.

mod office;
mod rtf;

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    Text,
    Markdown,
    Code,
    Html,
    Pdf,
    Docx,
    Odt,
    Pptx,
    Epub,
    Rtf,
    Xlsx,
    Csv,
    Tsv,
    Json,
}

impl Format {
    /// The format a file's extension says, or `None` for files that are not indexed.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "text" | "log" | "rst" | "org" | "tex" | "adoc" => Format::Text,
            "md" | "markdown" | "mdx" => Format::Markdown,
            "html" | "htm" | "xhtml" => Format::Html,
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "odt" => Format::Odt,
            "pptx" => Format::Pptx,
            "epub" => Format::Epub,
            "rtf" => Format::Rtf,
            "xlsx" | "xlsm" | "ods" => Format::Xlsx,
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" | "jsonl" | "ndjson" => Format::Json,
            "rs" | "py" | "js" | "jsx" | "ts" | "tsx" | "go" | "java" | "kt" | "swift" | "c"
            | "h" | "cc" | "cpp" | "hpp" | "cs" | "rb" | "php" | "scala" | "sh" | "bash"
            | "zsh" | "sql" | "r" | "m" | "lua" | "pl" | "hs" | "ex" | "exs" | "erl" | "clj"
            | "dart" | "vue" | "svelte" | "css" | "scss" | "toml" | "yaml" | "yml" | "ini"
            | "cfg" | "xml" | "ipynb" => Format::Code,
            _ => return None,
        })
    }
}

/// Bounds on one file's work.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files larger than this are skipped.
    pub max_file_bytes: u64,
    /// Most bytes the entries of a zip-based document may inflate to (zip bombs).
    pub max_inflated_bytes: u64,
    /// Most text kept from one file.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 200_000_000,
            max_inflated_bytes: 500_000_000,
            max_text_bytes: 50_000_000,
        }
    }
}

/// A document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub format: Format,
    pub text: String,
    /// Byte offsets in `text` where pages (PDF), slides (PPTX) or sheets (XLSX) start; empty for
    /// formats without pages.
    pub pages: Vec<usize>,
    /// Pages (1-based) with no text layer: they need OCR.
    pub pages_without_text: Vec<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("not a format Fathom indexes")]
    Unsupported,
    #[error("too large ({size} bytes; the limit is {limit})")]
    TooLarge { size: u64, limit: u64 },
    #[error("binary content, not text")]
    Binary,
    #[error("cannot read: {0}")]
    Unreadable(String),
    #[error("malformed {format:?}: {reason}")]
    Malformed { format: Format, reason: String },
    #[error("inflates past {limit} bytes (a zip bomb?)")]
    ZipBomb { limit: u64 },
    #[error("no text layer on any page (scanned? needs OCR)")]
    NeedsOcr,
}

/// The text of the file at `path`.
pub fn extract(path: &Path, limits: &Limits) -> Result<Extracted, ExtractError> {
    let format = Format::of(path).ok_or(ExtractError::Unsupported)?;
    let meta = std::fs::metadata(path).map_err(|e| ExtractError::Unreadable(e.to_string()))?;
    if meta.len() > limits.max_file_bytes {
        return Err(ExtractError::TooLarge {
            size: meta.len(),
            limit: limits.max_file_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| ExtractError::Unreadable(e.to_string()))?;
    extract_bytes(format, &bytes, limits)
}

fn plain(format: Format, text: String) -> Extracted {
    Extracted {
        format,
        text,
        pages: Vec::new(),
        pages_without_text: Vec::new(),
    }
}

/// Text of a file's bytes in a known format.
pub fn extract_bytes(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, ExtractError> {
    let malformed = |reason: String| ExtractError::Malformed { format, reason };
    let mut out = match format {
        Format::Text | Format::Markdown | Format::Code => plain(format, decode_text(bytes)?),
        Format::Html => plain(format, html_text(&decode_text(bytes)?)),
        Format::Csv | Format::Tsv => plain(
            format,
            table_text(bytes, if format == Format::Csv { b',' } else { b'\t' })
                .map_err(malformed)?,
        ),
        Format::Json => plain(format, json_text(&decode_text(bytes)?)),
        Format::Rtf => plain(format, rtf::text(&String::from_utf8_lossy(bytes))),
        Format::Pdf => pdf(bytes)?,
        Format::Docx | Format::Odt | Format::Pptx | Format::Epub => {
            office::extract(format, bytes, limits)?
        }
        Format::Xlsx => office::spreadsheet(bytes, limits)?,
    };
    if out.text.len() > limits.max_text_bytes {
        let mut cut = limits.max_text_bytes;
        while !out.text.is_char_boundary(cut) {
            cut -= 1;
        }
        out.text.truncate(cut);
        out.pages.retain(|&p| p <= cut);
    }
    Ok(out)
}

/// UTF-8 (with or without BOM), UTF-16 with a BOM; anything else with a NUL in its first 8 KB is
/// binary; other bytes decode as Windows-1252, the usual legacy encoding of text files.
pub fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return Ok(String::from_utf8_lossy(rest).into_owned());
    }
    for (bom, le) in [([0xFF, 0xFE], true), ([0xFE, 0xFF], false)] {
        if let Some(rest) = bytes.strip_prefix(&bom) {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| {
                    if le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            return Ok(String::from_utf16_lossy(&units));
        }
    }
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(ExtractError::Binary);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Ok(bytes.iter().map(|&b| windows_1252(b)).collect()),
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// Readable text of an HTML page (no tags, scripts or styles), wrapped generously.
pub fn html_text(html: &str) -> String {
    html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_else(|_| html.to_string())
}

fn table_text(bytes: &[u8], delimiter: u8) -> Result<String, String> {
    let text = decode_text(bytes).map_err(|e| e.to_string())?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = String::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let cells: Vec<&str> = record.iter().map(str::trim).collect();
        out.push_str(&cells.join(" | "));
        out.push('\n');
    }
    Ok(out)
}

/// JSON as indented `key: value` lines, so that keys and values are both searchable; JSON Lines
/// and invalid JSON fall back to the raw text.
fn json_text(text: &str) -> String {
    fn walk(v: &serde_json::Value, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if v.is_object() || v.is_array() {
                        out.push_str(&format!("{pad}{k}:\n"));
                        walk(v, depth + 1, out);
                    } else {
                        out.push_str(&format!("{pad}{k}: {}\n", scalar(v)));
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(v, depth, out);
                }
            }
            v => out.push_str(&format!("{pad}{}\n", scalar(v))),
        }
    }
    fn scalar(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => {
            let mut out = String::new();
            walk(&v, 0, &mut out);
            out
        }
        Err(_) => text.to_string(),
    }
}

/// The text layer of each page. pdf-extract panics on some malformed files; a panic is caught and
/// reported as a malformed file, never allowed to take the indexer down.
fn pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let owned = bytes.to_vec();
    let pages =
        std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem_by_pages(&owned))
            .map_err(|_| ExtractError::Malformed {
                format: Format::Pdf,
                reason: "the PDF parser gave up on this file".into(),
            })?
            .map_err(|e| ExtractError::Malformed {
                format: Format::Pdf,
                reason: e.to_string(),
            })?;
    let mut text = String::new();
    let mut starts = Vec::with_capacity(pages.len());
    let mut empty = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        starts.push(text.len());
        let page = page.trim();
        if page.is_empty() {
            empty.push(i + 1);
        }
        text.push_str(page);
        text.push_str("\n\n");
    }
    if !pages.is_empty() && empty.len() == pages.len() {
        return Err(ExtractError::NeedsOcr);
    }
    Ok(Extracted {
        format: Format::Pdf,
        text,
        pages: starts,
        pages_without_text: empty,
    })
}

#[cfg(test)]
mod tests;
