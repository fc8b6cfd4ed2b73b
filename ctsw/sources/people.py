"""People in source data: one stable identifier per person, bots told apart.

The identifier we output is the canonical e-mail (lower case) for git, or a vendor login / user id mapped
through `aliases` for exports. It is a person identifier: the loader replaces it with a keyed pseudonym.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DEFAULT_BOT_PATTERNS: tuple[str, ...] = (
    r"\[bot\]",
    r"\bdependabot\b",
    r"\brenovate\b",
    r"\bgithub-actions\b",
    r"\bsnyk-bot\b",
    r"\bgreenkeeper\b",
    r"\bpre-commit-ci\b",
    r"\bcopilot-swe-agent\b",
    r"\bdevin-ai-integration\b",
    r"^noreply@github\.com$",
)

_GH_NOREPLY = re.compile(r"^\d+\+([^@]+)@users\.noreply\.github\.com$", re.IGNORECASE)
_TOOL_SUFFIX = re.compile(r"\s*\((?:aider|codex)\)\s*$", re.IGNORECASE)
_TRAILER = re.compile(r"^co-authored-by:[ \t]*(.*?)[ \t]*<([^>\n]*)>[ \t]*$", re.IGNORECASE | re.MULTILINE)


def co_authors(message: str) -> list[tuple[str, str]]:
    """(name, email) of each `Co-authored-by:` trailer, in order."""
    return [(m.group(1), m.group(2)) for m in _TRAILER.finditer(message)]


class Identities:
    """Canonical person ids from (name, email), with aliases and bot detection.

    `aliases` maps an e-mail or a name (case-insensitive) to the canonical id; e-mails are tried first.
    GitHub's `12345+login@users.noreply.github.com` is folded to `login@users.noreply.github.com`.
    """

    def __init__(
        self,
        aliases: Mapping[str, str] | None = None,
        bot_patterns: Iterable[str] = DEFAULT_BOT_PATTERNS,
        fold_github_noreply: bool = True,
        merge_same_name: bool = False,
    ) -> None:
        self.aliases = {k.strip().lower(): v.strip().lower() for k, v in (aliases or {}).items()}
        self.bots = [re.compile(p, re.IGNORECASE) for p in bot_patterns]
        self.fold = fold_github_noreply
        self.merge_same_name = merge_same_name
        self._by_name: dict[str, str] = {}

    def is_bot(self, name: str, email: str) -> bool:
        return any(p.search(name) or p.search(email) for p in self.bots)

    def canonical(self, name: str, email: str) -> str:
        email_l = email.strip().lower()
        name_l = _TOOL_SUFFIX.sub("", name).strip().lower()
        if self.fold:
            m = _GH_NOREPLY.match(email_l)
            if m:
                email_l = f"{m.group(1)}@users.noreply.github.com"
        if email_l in self.aliases:
            return self.aliases[email_l]
        if name_l in self.aliases:
            return self.aliases[name_l]
        ident = email_l or name_l
        if self.merge_same_name and name_l:
            ident = self._by_name.setdefault(name_l, ident)
        return ident

    def person(self, name: str, email: str) -> str | None:
        """Canonical id, or None for a bot."""
        return None if self.is_bot(name, email) else self.canonical(name, email)
