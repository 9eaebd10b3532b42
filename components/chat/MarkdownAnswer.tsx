"use client";

import { useRef } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { CopyButton } from "./CopyButton";

/** A fenced code block, highlighted by rehype-highlight (highlight.js classes), with a button copying its text. */
function CodeBlock({ children }: { children?: React.ReactNode }) {
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div className="group relative my-2">
      <pre
        ref={pre}
        data-testid="code-block"
        className="overflow-x-auto rounded-md bg-[#0d1117] p-3 pr-16 text-sm text-[#e6edf3]"
      >
        {children}
      </pre>
      <CopyButton
        what="code"
        text={() => pre.current?.textContent ?? ""}
        className="absolute top-1.5 right-1.5 rounded border border-[#30363d] bg-[#161b22] px-2 py-0.5 text-xs text-[#e6edf3] hover:bg-[#30363d]"
      />
    </div>
  );
}

/**
 * An answer's Markdown, rendered without raw HTML: react-markdown builds React elements from the Markdown syntax tree
 * (`skipHtml`: HTML in the text is dropped, never parsed) and its default URL filter drops `javascript:` links.
 * Images in an answer are never loaded: `![alt](url)` becomes a link to the url, so an answer cannot make the
 * browser fetch a remote address by itself.
 */
const components: Components = {
  p: ({ children }) => <p className="my-2 first:mt-0 last:mb-0">{children}</p>,
  ul: ({ children }) => <ul className="my-2 list-disc pl-5">{children}</ul>,
  ol: ({ children }) => <ol className="my-2 list-decimal pl-5">{children}</ol>,
  h1: ({ children }) => <h3 className="mt-3 mb-1 text-base font-semibold">{children}</h3>,
  h2: ({ children }) => <h3 className="mt-3 mb-1 text-base font-semibold">{children}</h3>,
  h3: ({ children }) => <h4 className="mt-3 mb-1 font-semibold">{children}</h4>,
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer" className="text-blue-700 underline">
      {children}
    </a>
  ),
  img: ({ src, alt }) =>
    typeof src === "string" && src !== "" ? (
      <a
        href={src}
        target="_blank"
        rel="noopener noreferrer nofollow"
        data-testid="answer-image-link"
        className="text-blue-700 underline"
      >
        {alt || src}
      </a>
    ) : (
      <span>{alt}</span>
    ),
  pre: ({ children }) => <CodeBlock>{children}</CodeBlock>,
  blockquote: ({ children }) => (
    <blockquote className="my-2 border-l-4 border-slate-300 pl-3 text-slate-600">{children}</blockquote>
  ),
  table: ({ children }) => (
    <div className="my-2 overflow-x-auto">
      <table className="border-collapse text-sm">{children}</table>
    </div>
  ),
  th: ({ children }) => <th className="border border-slate-300 bg-slate-100 px-2 py-1 text-left">{children}</th>,
  td: ({ children }) => <td className="border border-slate-300 px-2 py-1">{children}</td>,
};

export function MarkdownAnswer({ text }: { text: string }) {
  return (
    <div
      data-testid="answer-markdown"
      className="break-words [&_:not(pre)>code]:rounded [&_:not(pre)>code]:bg-slate-100 [&_:not(pre)>code]:px-1 [&_code]:font-mono [&_code]:text-[0.9em]"
    >
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[[rehypeHighlight, { detect: false }]]}
        components={components}
        skipHtml
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}
