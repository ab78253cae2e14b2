"""labgw analyze: what a Health Hub extract holds and what would be shared."""

from gateway.analyze.run import analyze_files

__all__ = ["analyze_files"]
