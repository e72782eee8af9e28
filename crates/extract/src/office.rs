//! Zip-of-XML documents: DOCX, ODT, PPTX and EPUB, and spreadsheets through calamine. No crate
//! reads the text of all four well, and each is a few XML elements, so they share a small reader:
//! text nodes, with a line break at each paragraph and a tab at each tab element.

use std::io::{Cursor, Read};

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::{html_text, ExtractError, Extracted, Format, Limits};

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

fn open(format: Format, bytes: &[u8]) -> Result<Archive<'_>, ExtractError> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExtractError::Malformed {
        format,
        reason: format!("not a readable zip: {e}"),
    })
}

/// The entries' names (those that decode).
fn names(archive: &Archive<'_>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect()
}

/// One entry's bytes, refusing to inflate past what is left of the budget.
fn read_entry(
    archive: &mut Archive<'_>,
    name: &str,
    budget: &mut u64,
    limit: u64,
    format: Format,
) -> Result<Option<Vec<u8>>, ExtractError> {
    let mut entry = match archive.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => {
            return Err(ExtractError::Malformed {
                format,
                reason: format!("{name}: {e}"),
            })
        }
    };
    let mut out = Vec::new();
    // Declared sizes can lie: count what actually comes out.
    let read = (&mut entry)
        .take(*budget + 1)
        .read_to_end(&mut out)
        .map_err(|e| ExtractError::Malformed {
            format,
            reason: format!("{name}: {e}"),
        })?;
    if read as u64 > *budget {
        return Err(ExtractError::ZipBomb { limit });
    }
    *budget -= read as u64;
    Ok(Some(out))
}

/// Text of an XML part: `text` elements' content, `para` elements end a line, `tab` adds a tab,
/// `brk` a line break. Names are matched without their namespace prefix.
fn xml_text(
    xml: &[u8],
    text: &[&str],
    para: &[&str],
    tab: &[&str],
    brk: &[&str],
    format: Format,
) -> Result<String, ExtractError> {
    let mut reader = Reader::from_reader(xml);
    let mut out = String::new();
    let mut depth_in_text = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ExtractError::Malformed {
                format,
                reason: format!("XML: {e}"),
            })?;
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                if text.is_empty() || text.contains(&name.as_ref()) {
                    depth_in_text += 1;
                } else if tab.contains(&name.as_ref()) {
                    out.push('\t');
                } else if brk.contains(&name.as_ref()) {
                    out.push('\n');
                }
            }
            Event::Empty(e) => {
                let name = e.local_name();
                if tab.contains(&name.as_ref()) {
                    out.push('\t');
                } else if brk.contains(&name.as_ref()) || para.contains(&name.as_ref()) {
                    out.push('\n');
                } else if name.as_ref() == "s" && format == Format::Odt {
                    out.push(' ');
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                if (text.is_empty() || text.contains(&name.as_ref())) && depth_in_text > 0 {
                    depth_in_text -= 1;
                }
                if para.contains(&name.as_ref()) {
                    out.push('\n');
                }
            }
            Event::Text(t) if depth_in_text > 0 => {
                out.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if depth_in_text > 0 => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    out.push_str(match &*r {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

pub fn extract(format: Format, bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let mut archive = open(format, bytes)?;
    let mut budget = limits.max_inflated_bytes;
    let limit = limits.max_inflated_bytes;
    let missing = |part: &str| ExtractError::Malformed {
        format,
        reason: format!("no {part} inside"),
    };
    let mut pages = Vec::new();
    let text = match format {
        Format::Docx => {
            let xml = read_entry(
                &mut archive,
                "word/document.xml",
                &mut budget,
                limit,
                format,
            )?
            .ok_or_else(|| missing("word/document.xml"))?;
            xml_text(&xml, &["t"], &["p"], &["tab"], &["br", "cr"], format)?
        }
        Format::Odt => {
            let xml = read_entry(&mut archive, "content.xml", &mut budget, limit, format)?
                .ok_or_else(|| missing("content.xml"))?;
            xml_text(&xml, &[], &["p", "h"], &["tab"], &["line-break"], format)?
        }
        Format::Pptx => {
            // Slides in their number order (slide10 after slide9).
            let mut slides: Vec<(u32, String)> = names(&archive)
                .into_iter()
                .filter_map(|n| {
                    let num = n
                        .strip_prefix("ppt/slides/slide")?
                        .strip_suffix(".xml")?
                        .parse()
                        .ok()?;
                    Some((num, n.to_string()))
                })
                .collect();
            slides.sort();
            let mut text = String::new();
            for (_, name) in slides {
                pages.push(text.len());
                let xml = read_entry(&mut archive, &name, &mut budget, limit, format)?
                    .unwrap_or_default();
                text.push_str(&xml_text(&xml, &["t"], &["p"], &[], &["br"], format)?);
                text.push('\n');
            }
            text
        }
        Format::Epub => {
            let mut text = String::new();
            for name in epub_spine(&mut archive, &mut budget, limit)? {
                if let Some(html) = read_entry(&mut archive, &name, &mut budget, limit, format)? {
                    pages.push(text.len());
                    text.push_str(&html_text(&String::from_utf8_lossy(&html)));
                    text.push('\n');
                }
            }
            text
        }
        _ => return Err(ExtractError::Unsupported),
    };
    Ok(Extracted {
        format,
        text,
        pages,
        pages_without_text: Vec::new(),
    })
}

/// The chapters of an EPUB in reading order: the spine of the package the container names; the
/// archive's (X)HTML files in name order when that chain is broken.
fn epub_spine(
    archive: &mut Archive<'_>,
    budget: &mut u64,
    limit: u64,
) -> Result<Vec<String>, ExtractError> {
    let f = Format::Epub;
    let fallback = |archive: &Archive<'_>| {
        let mut names: Vec<String> = names(archive)
            .into_iter()
            .filter(|n| n.ends_with(".xhtml") || n.ends_with(".html") || n.ends_with(".htm"))
            .collect();
        names.sort();
        names
    };
    let Some(container) = read_entry(archive, "META-INF/container.xml", budget, limit, f)? else {
        return Ok(fallback(archive));
    };
    let Some(opf_path) = attr_of(&container, "rootfile", "full-path")
        .into_iter()
        .next()
    else {
        return Ok(fallback(archive));
    };
    let Some(opf) = read_entry(archive, &opf_path, budget, limit, f)? else {
        return Ok(fallback(archive));
    };
    let base = opf_path
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    let ids = attr_of(&opf, "item", "id");
    let hrefs = attr_of(&opf, "item", "href");
    let spine = attr_of(&opf, "itemref", "idref");
    let chapters: Vec<String> = spine
        .iter()
        .filter_map(|id| ids.iter().position(|i| i == id).and_then(|i| hrefs.get(i)))
        .map(|href| format!("{base}{href}"))
        .collect();
    Ok(if chapters.is_empty() {
        fallback(archive)
    } else {
        chapters
    })
}

/// Values of `attr` on every `element` (by local name), in document order.
fn attr_of(xml: &[u8], element: &str, attr: &str) -> Vec<String> {
    let mut reader = Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == element => {
                if let Some(a) = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == attr)
                {
                    out.push(a.value.to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// Every sheet's cells, a row per line, one page per sheet.
pub fn spreadsheet(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    use calamine::Reader as _;
    let f = Format::Xlsx;
    // calamine inflates entries itself; check the declared total first.
    let mut archive = open(f, bytes)?;
    let mut declared = 0u64;
    for i in 0..archive.len() {
        if let Ok(e) = archive.by_index_raw(i) {
            declared += e.size();
        }
    }
    if declared > limits.max_inflated_bytes {
        return Err(ExtractError::ZipBomb {
            limit: limits.max_inflated_bytes,
        });
    }
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        ExtractError::Malformed {
            format: f,
            reason: e.to_string(),
        }
    })?;
    let mut text = String::new();
    let mut pages = Vec::new();
    for name in book.sheet_names() {
        let Ok(range) = book.worksheet_range(&name) else {
            continue;
        };
        pages.push(text.len());
        text.push_str(&format!("{name}\n"));
        for row in range.rows() {
            let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
            text.push_str(cells.join(" | ").trim_end_matches([' ', '|']));
            text.push('\n');
        }
    }
    Ok(Extracted {
        format: f,
        text,
        pages,
        pages_without_text: Vec::new(),
    })
}
