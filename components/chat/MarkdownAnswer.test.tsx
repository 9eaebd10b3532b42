import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { MarkdownAnswer } from "./MarkdownAnswer";

const render = (text: string) => renderToStaticMarkup(<MarkdownAnswer text={text} />);

describe("MarkdownAnswer", () => {
  it("renders a remote image as a link to it, never as an <img>", () => {
    const html = render("Look: ![a cat](https://example.com/cat.png) and ![](https://example.com/x.png)");
    expect(html).not.toContain("<img");
    expect(html).toContain(
      '<a href="https://example.com/cat.png" target="_blank" rel="noopener noreferrer nofollow" data-testid="answer-image-link"',
    );
    expect(html).toContain(">a cat</a>");
    expect(html).toContain(">https://example.com/x.png</a>");
  });

  it("highlights a fenced code block with its language and gives it a copy button", () => {
    const html = render('```python\ndef f(x):\n    return "hi"\n```');
    expect(html).toContain('data-testid="code-block"');
    expect(html).toContain('class="hljs language-python"');
    expect(html).toContain('<span class="hljs-keyword">def</span>');
    expect(html).toContain('<span class="hljs-string">&quot;hi&quot;</span>');
    expect(html).toMatch(
      /<button type="button"[^>]*><span aria-live="polite">Copy<\/span><span class="sr-only"> code<\/span><\/button>/,
    );
  });

  it("drops raw HTML and javascript: links", () => {
    const html = render('<script>alert(1)</script> [x](javascript:alert(1)) <img src="https://example.com/y.png">');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("javascript:");
  });
});
