import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/lib/markdown";

describe("renderMarkdown", () => {
  it("renders Markdown and highlights code by language", () => {
    const html = renderMarkdown("# Title\n\nSome **bold** and `code`.\n\n```rust\nfn main() { let x = 1; }\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain('class="hljs language-rust"');
    expect(html).toContain('<span class="hljs-keyword">fn</span>');
    expect(html).toContain("<table>");
  });

  it("keeps code in an unknown language as escaped text", () => {
    const html = renderMarkdown("```nolang\n<script>alert(1)</script>\n```");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script");
  });

  it("removes script, event handlers, remote loads and navigation", () => {
    const html = renderMarkdown(
      [
        "<script>alert(1)</script>",
        '<img src="https://example.com/x.png" onerror="alert(2)">',
        "![tracker](https://example.com/t.gif)",
        '<a href="javascript:alert(3)">js</a> [web](https://example.com) [here](#top)',
        '<iframe src="https://example.com"></iframe><svg onload="alert(4)"></svg>',
        '<div style="background:url(https://example.com)" onclick="alert(5)">text</div>',
        "<form action='https://example.com'><input name=a></form>",
      ].join("\n\n"),
    );
    for (const bad of ["<script", "onerror", "<img", "javascript:", "https://example.com", "<iframe", "<svg", "onclick", "style=", "<form", "<input", "alert("]) {
      expect(html, bad).not.toContain(bad);
    }
    expect(html).toContain('href="#top"');
    expect(html).toContain("text");
  });
});
