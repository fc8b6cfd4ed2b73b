"""AI coding tool markers in commits: tool name -> regular expressions (a data structure you can replace).

A commit is matched on a text made of one line `author: <name> <email>` (the raw author, before .mailmap, so
an "(aider)" name suffix survives) followed by the full commit message. Patterns are compiled case-insensitive
and multi-line (`^` = start of any line). A commit counts as its (human) author using a tool on the commit's
author day when any pattern of that tool matches.

Trailers measure *disclosed* use: tools that do not sign their work, developers who strip trailers and squash
merges that drop them all go unseen, so the counts are a lower bound of real use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Trailer keys that credit a tool. `Co-authored-by` is GitHub's; `Assisted-by` / `Generated-by` are the
# kernel/Fedora/Apache style.
_CREDIT = r"^(?:co-authored|assisted|generated)-by:[ \t]*"

AI_MARKERS: dict[str, tuple[str, ...]] = {
    "claude_code": (
        # "Co-Authored-By: Claude <noreply@anthropic.com>" / "Claude Opus 4.5 <noreply@anthropic.com>"
        _CREDIT + r"claude\b[^\n]*<noreply@anthropic\.com>",
        # "Assisted-by: Claude:claude-opus-4" / "Generated-by: Claude Code" (no e-mail in these styles)
        r"^(?:assisted|generated)-by:[ \t]*claude\b",
        # "🤖 Generated with [Claude Code](https://claude.com/claude-code)"
        r"generated with \[?claude code\b",
    ),
    "copilot": (
        # "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>" (VS Code, coding agent)
        _CREDIT + r"(?:github[ \t]+)?copilot\b",
        # the coding agent's own identity as author or co-author
        r"copilot-swe-agent",
    ),
    "cursor": (
        # "Co-authored-by: Cursor <cursoragent@cursor.com>" / "Cursor Agent <cursoragent@cursor.com>"
        _CREDIT + r"cursor(?:[ \t]+agent)?[ \t]*<",
        r"cursoragent@cursor\.com",
        # "Made-with: Cursor" trailer and "Made with [Cursor](https://cursor.com)" in squashed PR bodies
        r"^made[- ]with:?[ \t]*\[?cursor\b",
    ),
    "gemini_code_assist": (
        # "Co-authored-by: gemini-code-assist[bot] <...>" from applied review suggestions
        r"gemini-code-assist",
        _CREDIT + r"gemini\b",
    ),
    "codex": (
        # "Co-authored-by: Codex <codex@openai.com>"
        _CREDIT + r"(?:openai[ \t]+)?codex\b",
        r"chatgpt-codex-connector",
        # "(codex)" author-name suffix, the aider convention some Codex set-ups copy
        r"^author: [^\n<]*\(codex\)[ \t]*<",
    ),
    "devin": (
        # author "devin-ai-integration[bot]" (the requesting human is usually a Co-Authored-By trailer)
        r"devin-ai-integration",
        _CREDIT + r"devin\b",
    ),
    "aider": (
        # aider's historical subject prefix "aider: <message>"
        r"^aider: ",
        # aider appends " (aider)" to the author (and committer) name
        r"^author: [^\n<]*\(aider\)[ \t]*<",
        # "Co-authored-by: aider (gpt-4o) <noreply@aider.chat>"
        r"noreply@aider\.chat",
    ),
}

# Applied only when no tool above matched: a generic disclosure names no known tool.
FALLBACK_AI_MARKERS: dict[str, tuple[str, ...]] = {
    "other": (
        r"^assisted-by:[ \t]*\S",
        r"^generated-by:[ \t]*\S",
    ),
}


class AIMatcher:
    """Compiled markers; `tools(author_line, message)` returns the set of tool names a commit carries."""

    def __init__(
        self,
        markers: Mapping[str, Iterable[str]] = AI_MARKERS,
        fallback: Mapping[str, Iterable[str]] = FALLBACK_AI_MARKERS,
    ) -> None:
        flags = re.IGNORECASE | re.MULTILINE
        self.markers = {tool: [re.compile(p, flags) for p in pats] for tool, pats in markers.items()}
        self.fallback = {tool: [re.compile(p, flags) for p in pats] for tool, pats in fallback.items()}

    @staticmethod
    def text(author_name: str, author_email: str, message: str) -> str:
        return f"author: {author_name} <{author_email}>\n{message}"

    def tools_in(self, text: str) -> frozenset[str]:
        found = {tool for tool, pats in self.markers.items() if any(p.search(text) for p in pats)}
        if not found:
            found = {tool for tool, pats in self.fallback.items() if any(p.search(text) for p in pats)}
        return frozenset(found)

    def tools(self, author_name: str, author_email: str, message: str) -> frozenset[str]:
        return self.tools_in(self.text(author_name, author_email, message))

    def is_ai_identity(self, name: str, email: str) -> bool:
        """True when a co-author identity is itself a tool (so it is not a human collaborator)."""
        line = f"co-authored-by: {name} <{email}>"
        pats = [p for ps in self.markers.values() for p in ps] + [p for ps in self.fallback.values() for p in ps]
        return any(p.search(line) for p in pats)
