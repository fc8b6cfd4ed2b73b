"""Source adapters: real telemetry (git history, vendor API exports, an HR roster) -> contract landing files.

Entry points: `ctsw.sources.git.extract_git`, the `extract_*` functions of `ctsw.sources.exports`, and
`ctsw.sources.landing.write_landing`. docs/sources.md documents every mapping.
"""
