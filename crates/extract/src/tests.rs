use std::io::Write;

use super::*;

fn limits() -> Limits {
    Limits::default()
}

fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn text_of(format: Format, bytes: &[u8]) -> String {
    extract_bytes(format, bytes, &limits()).unwrap().text
}

#[test]
fn formats_follow_extensions() {
    assert_eq!(Format::of(Path::new("a/Notes.MD")), Some(Format::Markdown));
    assert_eq!(Format::of(Path::new("x.tsx")), Some(Format::Code));
    assert_eq!(Format::of(Path::new("paper.pdf")), Some(Format::Pdf));
    assert_eq!(Format::of(Path::new("photo.jpg")), None);
    assert_eq!(Format::of(Path::new("Makefile")), None);
}

#[test]
fn text_in_any_common_encoding_and_binary_refused() {
    assert_eq!(text_of(Format::Text, "héllo".as_bytes()), "héllo");
    assert_eq!(text_of(Format::Text, b"\xEF\xBB\xBFbom"), "bom");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("añ".encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    assert_eq!(text_of(Format::Text, &utf16), "añ");
    assert_eq!(
        text_of(Format::Text, b"caf\xe9 \x93quoted\x94"),
        "café “quoted”"
    );
    assert_eq!(
        extract_bytes(Format::Code, b"ELF\0\0\x01", &limits()),
        Err(ExtractError::Binary)
    );
}

#[test]
fn html_keeps_the_words_and_drops_markup_and_scripts() {
    let t = text_of(Format::Html, b"<html><head><style>p{color:red}</style><script>var secret=1</script></head><body><h1>Title</h1><p>Some <b>bold</b> text &amp; more.</p></body></html>");
    assert!(
        t.contains("Title") && t.contains("Some bold text & more."),
        "{t}"
    );
    assert!(!t.contains("secret") && !t.contains("color"), "{t}");
}

#[test]
fn tables_and_json_become_searchable_lines() {
    assert_eq!(
        text_of(Format::Csv, b"name,city\n\"Smith, J\",Oslo\n"),
        "name | city\nSmith, J | Oslo\n"
    );
    assert_eq!(text_of(Format::Tsv, b"a\tb\n1\t2\n"), "a | b\n1 | 2\n");
    let j = text_of(
        Format::Json,
        br#"{"title":"Report","tags":["x","y"],"meta":{"year":2024}}"#,
    );
    assert!(
        j.contains("title: Report") && j.contains("  x") && j.contains("  year: 2024"),
        "{j}"
    );
}

#[test]
fn rtf_text_without_control_words_or_tables() {
    let rtf = r"{\rtf1\ansi{\fonttbl{\f0 Times;}}{\colortbl;\red0\green0\blue0;}\f0 Hello \b world\b0 !\par Caf\'e9 \u8364? costs\tab 5{\*\generator Word;}}";
    assert_eq!(rtf::text(rtf), "Hello world!\nCafé € costs\t5");
}

#[test]
fn docx_paragraphs_tabs_and_entities() {
    let doc = zip(&[(
        "word/document.xml",
        r#"<?xml version="1.0"?><w:document xmlns:w="w"><w:body><w:p><w:r><w:t>First &amp; one</w:t></w:r><w:r><w:tab/><w:t>tabbed</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">Second </w:t></w:r><w:r><w:t>para</w:t></w:r></w:p></w:body></w:document>"#,
    )]);
    assert_eq!(
        text_of(Format::Docx, &doc),
        "First & one\ttabbed\nSecond para\n"
    );
}

#[test]
fn odt_paragraphs_and_headings() {
    let doc = zip(&[(
        "content.xml",
        r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text><text:h>Heading</text:h><text:p>Body<text:s/>text</text:p></office:text></office:body></office:document-content>"#,
    )]);
    assert_eq!(text_of(Format::Odt, &doc), "Heading\nBody text\n");
}

#[test]
fn pptx_slides_in_number_order_as_pages() {
    let slide = |t: &str| {
        format!(r#"<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:sld>"#)
    };
    let (s1, s2, s10) = (slide("one"), slide("two"), slide("ten"));
    let deck = zip(&[
        ("ppt/slides/slide10.xml", &s10),
        ("ppt/slides/slide1.xml", &s1),
        ("ppt/slides/slide2.xml", &s2),
    ]);
    let out = extract_bytes(Format::Pptx, &deck, &limits()).unwrap();
    assert_eq!(out.text, "one\n\ntwo\n\nten\n\n");
    assert_eq!(out.pages, vec![0, 5, 10]);
}

#[test]
fn epub_chapters_in_spine_order() {
    let book = zip(&[
        (
            "META-INF/container.xml",
            r#"<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>"#,
        ),
        (
            "OEBPS/content.opf",
            r#"<package><manifest><item id="a" href="a.xhtml"/><item id="b" href="b.xhtml"/></manifest><spine><itemref idref="b"/><itemref idref="a"/></spine></package>"#,
        ),
        (
            "OEBPS/a.xhtml",
            "<html><body><p>Chapter two</p></body></html>",
        ),
        (
            "OEBPS/b.xhtml",
            "<html><body><p>Chapter one</p></body></html>",
        ),
    ]);
    let t = text_of(Format::Epub, &book);
    assert!(
        t.find("Chapter one").unwrap() < t.find("Chapter two").unwrap(),
        "{t}"
    );
}

#[test]
fn xlsx_sheets_as_rows() {
    let book = zip(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Budget" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        (
            "xl/worksheets/sheet1.xml",
            r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Item</t></is></c><c r="B1" t="inlineStr"><is><t>Cost</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Rent</t></is></c><c r="B2"><v>1200</v></c></row></sheetData></worksheet>"#,
        ),
    ]);
    let out = extract_bytes(Format::Xlsx, &book, &limits()).unwrap();
    assert_eq!(out.text, "Budget\nItem | Cost\nRent | 1200\n");
    assert_eq!(out.pages, vec![0]);
}

/// A minimal PDF with one Helvetica text line per page (`None`: a page with no text layer), with a
/// correct cross-reference table.
pub fn pdf_with_pages(pages: &[Option<&str>]) -> Vec<u8> {
    let n = pages.len();
    let mut objects: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {n} >>",
        kids.join(" ")
    ));
    objects.push(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    );
    for (i, page) in pages.iter().enumerate() {
        let content = match page {
            Some(t) => format!("BT /F1 12 Tf 72 720 Td ({t}) Tj ET"),
            None => "0 0 1 rg 72 72 100 100 re f".into(),
        };
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", 5 + 2 * i));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn pdf_pages_and_pages_that_need_ocr() {
    let pdf = pdf_with_pages(&[Some("First page words"), None, Some("Third page")]);
    let out = extract_bytes(Format::Pdf, &pdf, &limits()).unwrap();
    assert!(
        out.text.contains("First page words") && out.text.contains("Third page"),
        "{:?}",
        out.text
    );
    assert_eq!(out.pages.len(), 3);
    assert!(
        out.text[out.pages[2]..].starts_with("Third page"),
        "{:?}",
        out.text
    );
    assert_eq!(out.pages_without_text, vec![2]);
    let scanned = pdf_with_pages(&[None, None]);
    assert_eq!(
        extract_bytes(Format::Pdf, &scanned, &limits()),
        Err(ExtractError::NeedsOcr)
    );
}

#[test]
fn broken_files_are_errors_never_panics() {
    for format in [
        Format::Pdf,
        Format::Docx,
        Format::Odt,
        Format::Pptx,
        Format::Epub,
        Format::Xlsx,
    ] {
        for junk in [
            &b""[..],
            b"%PDF-1.4\n1 0 obj << /Type /Catalog",
            b"PK\x03\x04garbage",
            &[0xFFu8; 300][..],
        ] {
            let r = extract_bytes(format, junk, &limits());
            assert!(
                matches!(r, Err(ExtractError::Malformed { .. })),
                "{format:?} {junk:?}: {r:?}"
            );
        }
    }
    let no_part = zip(&[("other.xml", "<a/>")]);
    assert_eq!(
        extract_bytes(Format::Docx, &no_part, &limits())
            .unwrap_err()
            .to_string(),
        "malformed Docx: no word/document.xml inside"
    );
}

#[test]
fn zip_bombs_and_huge_files_are_stopped() {
    let big = format!("<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:body></w:document>", "a".repeat(3_000_000));
    let bomb = zip(&[("word/document.xml", &big)]);
    assert!(bomb.len() < 50_000, "compresses well: {}", bomb.len());
    let small = Limits {
        max_inflated_bytes: 1_000_000,
        ..limits()
    };
    assert_eq!(
        extract_bytes(Format::Docx, &bomb, &small),
        Err(ExtractError::ZipBomb { limit: 1_000_000 })
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.log");
    std::fs::write(&path, vec![b'x'; 2000]).unwrap();
    let tiny = Limits {
        max_file_bytes: 1000,
        ..limits()
    };
    assert_eq!(
        extract(&path, &tiny),
        Err(ExtractError::TooLarge {
            size: 2000,
            limit: 1000
        })
    );
    // Text past the limit is cut at a character boundary.
    let cut = Limits {
        max_text_bytes: 5,
        ..limits()
    };
    assert_eq!(
        extract_bytes(Format::Text, "abcdé".as_bytes(), &cut)
            .unwrap()
            .text,
        "abcd"
    );
}
